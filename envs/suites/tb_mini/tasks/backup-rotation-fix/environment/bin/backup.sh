#!/bin/bash
# backup.sh - snapshot a directory into a compressed tarball and rotate old snapshots.
#
# Usage: backup.sh SRC_DIR DEST_DIR [KEEP]
#
# Creates DEST_DIR/<name>-<YYYYmmdd-HHMMSS>.tar.gz, where <name> is the last component of
# SRC_DIR and the timestamp is the current local time (or $BACKUP_TIMESTAMP when set, used
# by the nightly job to stamp all hosts alike). The archive contains the directory <name>
# itself, so it restores with `tar -xzf ARCHIVE -C PARENT`.
# Paths matching the patterns in SRC_DIR/.backupignore are left out: one tar --exclude
# pattern per line; blank lines and lines starting with '#' are ignored.
# Afterwards only the KEEP (default 5) newest snapshots of <name> in DEST_DIR are kept;
# "newest" is decided by the timestamp in the file name. Other files in DEST_DIR, including
# snapshots of other directories, are never touched.
# Prints the path of the new archive. Exits non-zero, without deleting anything, when
# SRC_DIR is not a directory, KEEP is not a positive integer, or the archive cannot be made.

SRC=$1
DEST=$2
KEEP=${3:-5}
NAME=$(basename $SRC)
STAMP=${BACKUP_TIMESTAMP:-$(date +%Y%m%d-%H%M%S)}
ARCHIVE=$DEST/$NAME-$STAMP.tar.gz

EXCLUDES=""
if [ -f $SRC/.backupignore ]; then
    for pat in $(cat $SRC/.backupignore); do
        EXCLUDES="$EXCLUDES --exclude=$pat"
    done
fi

mkdir -p $DEST
tar -czf $ARCHIVE $EXCLUDES -C $(dirname $SRC) $NAME

# rotation: keep the newest $KEEP archives
ls -t $DEST/$NAME-*.tar.gz | head -n $KEEP | xargs rm -f

echo $ARCHIVE

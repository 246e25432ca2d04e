#!/bin/bash
set -euo pipefail
cat > /app/bin/backup.sh <<'SH'
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
set -uo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: backup.sh SRC_DIR DEST_DIR [KEEP]" >&2
    exit 2
fi
SRC=${1%/}
DEST=$2
KEEP=${3:-5}

if [ ! -d "$SRC" ]; then
    echo "backup.sh: source '$SRC' is not a directory" >&2
    exit 1
fi
if ! [[ "$KEEP" =~ ^[0-9]+$ ]] || [ "$KEEP" -lt 1 ]; then
    echo "backup.sh: KEEP must be a positive integer, got '$KEEP'" >&2
    exit 2
fi

NAME=$(basename -- "$SRC")
PARENT=$(dirname -- "$SRC")
STAMP=${BACKUP_TIMESTAMP:-$(date +%Y%m%d-%H%M%S)}
ARCHIVE="$DEST/$NAME-$STAMP.tar.gz"

EXCLUDES=()
if [ -f "$SRC/.backupignore" ]; then
    while IFS= read -r pat || [ -n "$pat" ]; do
        [[ -z "${pat//[[:space:]]/}" || "$pat" == \#* ]] && continue
        EXCLUDES+=("--exclude=$pat")
    done < "$SRC/.backupignore"
fi

mkdir -p -- "$DEST" || exit 1
if ! tar -czf "$ARCHIVE" "${EXCLUDES[@]}" -C "$PARENT" -- "$NAME"; then
    rm -f -- "$ARCHIVE"
    echo "backup.sh: creating $ARCHIVE failed" >&2
    exit 1
fi

# rotation: snapshots of exactly this name, oldest first by the timestamp in the file name
snapshots=()
while IFS= read -r -d '' f; do
    base=${f##*/}
    [[ "$base" == "$NAME-"* ]] || continue
    stamp=${base#"$NAME-"}
    stamp=${stamp%.tar.gz}
    [[ "$stamp" =~ ^[0-9]{8}-[0-9]{6}$ ]] && snapshots+=("$stamp")
done < <(find "$DEST" -maxdepth 1 -type f -name '*.tar.gz' -print0)

if [ "${#snapshots[@]}" -gt "$KEEP" ]; then
    mapfile -t ordered < <(printf '%s\n' "${snapshots[@]}" | sort)
    drop=$(( ${#ordered[@]} - KEEP ))
    for stamp in "${ordered[@]:0:$drop}"; do
        rm -f -- "$DEST/$NAME-$stamp.tar.gz"
    done
fi

echo "$ARCHIVE"
SH
chmod +x /app/bin/backup.sh
/app/bin/backup.sh "/srv/shop data" /backups 3

#!/bin/bash
set -euo pipefail
ONB=/app/onboarding

# Project groups with the right GIDs (groupmod fixes existing ones).
tail -n +2 "$ONB/projects.csv" | while IFS=, read -r group gid owner; do
    # another group squatting on the GID moves to a free one
    squatter=$(getent group "$gid" | cut -d: -f1 || true)
    if [ -n "$squatter" ] && [ "$squatter" != "$group" ]; then
        free=3000
        while getent group "$free" >/dev/null; do free=$((free + 1)); done
        groupmod -g "$free" "$squatter"
        find / -xdev -gid "$gid" -exec chgrp -h "$squatter" {} + 2>/dev/null || true
    fi
    if getent group "$group" >/dev/null; then
        old_gid=$(getent group "$group" | cut -d: -f3)
        if [ "$old_gid" != "$gid" ]; then
            groupmod -g "$gid" "$group"
            find / -xdev -gid "$old_gid" -exec chgrp -h "$group" {} + 2>/dev/null || true
        fi
    else
        groupadd -g "$gid" "$group"
    fi
done

python3 - <<'PY' > /tmp/team.tsv
import csv
with open("/app/onboarding/team.csv", encoding="utf-8") as f:
    for r in csv.DictReader(f):
        print("\t".join([r["username"], r["uid"], r["full_name"], r["groups"], r["shell"], r["status"]]))
PY

while IFS=$'\t' read -r user uid name groups shell status; do
    if [ "$status" = removed ]; then
        if id "$user" >/dev/null 2>&1; then
            old_uid=$(id -u "$user")
            # hand project files over to the project owner before the account disappears
            tail -n +2 "$ONB/projects.csv" | while IFS=, read -r group gid owner; do
                if [ -d "/srv/projects/$group" ]; then
                    find "/srv/projects/$group" -uid "$old_uid" -exec chown -h "$owner:$group" {} +
                fi
            done
            userdel -r "$user" 2>/dev/null || userdel "$user"
        fi
        if getent group "$user" >/dev/null; then groupdel "$user"; fi
        rm -rf "/home/$user"
        continue
    fi
    getent group "$user" >/dev/null || groupadd -g "$uid" "$user"
    [ "$(getent group "$user" | cut -d: -f3)" = "$uid" ] || groupmod -g "$uid" "$user"
    if [ "$status" = disabled ]; then shell=/usr/sbin/nologin; fi
    if id "$user" >/dev/null 2>&1; then
        usermod -u "$uid" -g "$uid" -c "$name" -s "$shell" -d "/home/$user" -G "$groups" "$user"
    else
        useradd -m -u "$uid" -g "$uid" -c "$name" -s "$shell" -d "/home/$user" -G "$groups" "$user"
    fi
    mkdir -p "/home/$user"
    chown "$user:$user" "/home/$user"
    chmod 0750 "/home/$user"
    if [ "$status" = disabled ]; then
        usermod -L -e 1 "$user"
        rm -f "/home/$user/.ssh/authorized_keys"
    else
        usermod -e "" "$user"
        install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
        install -m 0600 -o "$user" -g "$user" "$ONB/keys/$user.pub" "/home/$user/.ssh/authorized_keys"
    fi
done < /tmp/team.tsv

tail -n +2 "$ONB/projects.csv" | while IFS=, read -r group gid owner; do
    mkdir -p "/srv/projects/$group"
    chown "$owner:$group" "/srv/projects/$group"
    chmod 2770 "/srv/projects/$group"
done

# anything still orphaned under /srv/projects goes to the project owner
tail -n +2 "$ONB/projects.csv" | while IFS=, read -r group gid owner; do
    find "/srv/projects/$group" \( -nouser -o -nogroup \) -exec chown -h "$owner:$group" {} +
done
find /home \( -nouser -o -nogroup \) -print

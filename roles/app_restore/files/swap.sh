# Swap the database files behind the stopped app and Litestream (run by app_restore as root,
# one step, so the app is down as briefly as possible). Arguments: the database, the name to
# keep it under, the checked spare copy, Litestream's local state folder, the UTC stamp.
# The WAL moves with the database under the matching name (SQLite opens NAME-wal with NAME);
# the -shm index is rebuilt by SQLite; the restored file gets the old file's owner and mode.
set -eu
db=$1 old=$2 spare=$3 state=$4 stamp=$5
[ -f "$db" ] && [ -f "$spare" ] && [ ! -e "$old" ]
owner=$(stat -c %u:%g "$db")
mode=$(stat -c %a "$db")
mv -T "$db" "$old"
if [ -e "$db-wal" ]; then mv -T "$db-wal" "$old-wal"; fi
rm -f "$db-shm"
if [ -e "$state" ]; then mv -T "$state" "$state.before-restore-$stamp"; fi
chown "$owner" "$spare"
chmod "$mode" "$spare"
mv -T "$spare" "$db"
echo "kept $old$([ -e "$old-wal" ] && echo " and $old-wal")"

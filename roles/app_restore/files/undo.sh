# Put the database from before the restore back (run by app_restore as root after a failure
# that followed the stop). Arguments: the database, the name it was kept under, Litestream's
# local state folder, the UTC stamp, the name to keep the failed restored database under.
# The spare copy is moved in last, so when the database path exists it is the restored one.
set -eu
db=$1 old=$2 state=$3 stamp=$4 failed=$5
if [ ! -f "$old" ]; then echo "not moved"; exit 0; fi
if [ -e "$db" ]; then
  mv -T "$db" "$failed"
  if [ -e "$db-wal" ]; then mv -T "$db-wal" "$failed-wal"; fi
fi
rm -f "$db-shm"
if [ -e "$state.before-restore-$stamp" ]; then
  rm -rf "$state"
  mv -T "$state.before-restore-$stamp" "$state"
fi
mv -T "$old" "$db"
if [ -e "$old-wal" ]; then mv -T "$old-wal" "$db-wal"; fi
echo "put back"

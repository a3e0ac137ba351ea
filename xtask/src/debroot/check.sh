#!/bin/sh
# tracer-deb-check: run by tracer-deb-check.service in the booted Debian
# root (cargo xtask deb-test). Checks the installed tracer-record.service
# and prints one line per check on the console:
#   @@deb-check NAME ok DETAIL | @@deb-check NAME FAIL DETAIL
#   @@deb-check-info ...        (facts for the report)
#   @@deb-check done fails=N    (last; then the guest powers off)
set -u
UNIT=tracer-record.service
DIR=/var/log/tracer
KEEP=${DEB_CHECK_KEEP:-5}
fails=0
T=/run/deb-check
mkdir -p $T

ok() { echo "@@deb-check $1 ok ${2:-}"; }
fail() {
    echo "@@deb-check $1 FAIL ${2:-}"
    fails=$((fails + 1))
}
info() { echo "@@deb-check-info $*"; }
# Every line of stdin as an info line, with a prefix.
infos() { while IFS= read -r l; do info "$1: $l"; done; }
mainpid() { systemctl show -p MainPID --value $UNIT; }
active() { systemctl is-active --quiet $UNIT; }
# File names in $DIR, sorted.
files() { ls -1 $DIR 2>/dev/null | LC_ALL=C sort; }
nfiles() { files | wc -l; }
snapshot() { files >$T/before; }
# Files that appeared since the last snapshot.
new_files() {
    files >$T/now
    LC_ALL=C comm -13 $T/before $T/now
}
has_new() { [ -n "$(new_files)" ]; }
# A new file appeared since the last snapshot and the newest file (names
# sort by time) has data: a starting tracer creates its file before it has
# attached and written anything, and the old one leaves a last file too.
has_new_data() {
    has_new || return 1
    f=$(files | tail -n 1)
    [ -n "$f" ] && [ -s "$DIR/$f" ]
}
# Seconds since boot (no fork: commands are slow under emulation).
uptime_s() {
    read -r up _ </proc/uptime
    up=${up%.*}
}
# wait_until SECONDS CMD...: true once CMD is, false after SECONDS.
wait_until() {
    uptime_s
    end=$((up + $1))
    shift
    while :; do
        "$@" && return 0
        uptime_s
        [ "$up" -ge "$end" ] && return 1
        sleep 1
    done
}
restarted_from() { active && p=$(mainpid) && [ "$p" != 0 ] && [ "$p" != "$1" ]; }
finish() {
    if [ $fails -gt 0 ]; then
        journalctl -u $UNIT --no-pager -n 40 | infos journal
        ls -l $DIR 2>&1 | infos files
    fi
    echo "@@deb-check done fails=$fails"
    # Twice --force: at once, no stop of every unit (20-30 s under
    # emulation); the image is thrown away.
    sync
    systemctl --force --force poweroff
    exit 0
}

info "kernel $(uname -r); $(systemctl --version | head -n 1)"
info "tracer $(tracer --version 2>&1)"
systemctl cat $UNIT 2>&1 | infos unit
env_file=$(systemctl show -p EnvironmentFiles --value $UNIT | cut -d' ' -f1)
[ -n "$env_file" ] && cat "$env_file" 2>&1 | grep -v '^#' | grep . | infos "$env_file"

# 1. The unit the package enabled is running and recording.
if wait_until 180 active; then
    ok active "pid $(mainpid) after $(systemctl show -p ActiveEnterTimestampMonotonic --value $UNIT | sed 's/......$//')s of boot"
else
    fail active "$(systemctl is-active $UNIT)"
    finish
fi
if wait_until 60 test "$(nfiles)" -ge 1; then
    ok recording "$(files | tr '\n' ' ')"
else
    fail recording "no file in $DIR"
fi

# Hardening the unit asks for, as systemd applied it (it is running, so
# none of these kept tracer from loading its programs).
props="User NoNewPrivileges ProtectSystem ProtectHome PrivateTmp PrivateDevices
    PrivateNetwork ProtectKernelTunables ProtectKernelModules ProtectKernelLogs
    ProtectControlGroups ProtectClock ProtectHostname ProtectProc RestrictNamespaces
    RestrictRealtime RestrictSUIDSGID LockPersonality MemoryDenyWriteExecute
    SystemCallArchitectures RestrictAddressFamilies CapabilityBoundingSet
    AmbientCapabilities ReadWritePaths LogsDirectory DevicePolicy UMask LimitMEMLOCK LimitNOFILE
    Restart RestartUSec"
# shellcheck disable=SC2046 # one -p per property
systemctl show $UNIT $(for p in $props; do printf ' -p %s' $p; done) | cut -c1-200 | infos hardening
info "hardening SystemCallFilter: $(systemctl show -p SystemCallFilter --value $UNIT | wc -w) names"

# 2. Events: execs in a loop, and a marker program the replay must show.
cp /bin/true /usr/local/bin/debcheckmark1
cp /bin/true /usr/local/bin/debcheckmark2
rm -f $T/stop
load() { while [ ! -e $T/stop ]; do /bin/true; done; }
load &
load &

# 3. Rotation: more than one file, and files deleted past --keep.
: >$T/seen
rotated=no
uptime_s
start=$up
i=0
while [ $i -lt 150 ]; do
    files >$T/now
    LC_ALL=C sort -u -o $T/seen $T/seen $T/now
    cur=$(wc -l <$T/now)
    seen=$(wc -l <$T/seen)
    gone=$(LC_ALL=C comm -23 $T/seen $T/now | wc -l)
    if [ "$cur" -ge 2 ] && [ "$gone" -ge 1 ]; then
        rotated=yes
        break
    fi
    sleep 1
    uptime_s
    i=$((up - start))
done
detail="after ${i}s: $cur files now, $seen seen, $gone deleted (--keep $KEEP)"
if [ $rotated = yes ] && [ "$cur" -le $((KEEP + 1)) ]; then
    ok rotation "$detail"
else
    fail rotation "$detail"
fi
touch $T/stop
wait
info "files $(ls -l $DIR | tail -n +2 | awk '{print $5":"$9}' | tr '\n' ' ')"

# 4. Reload (SIGHUP): a new file, same process. First wait for a timed
# rotation, so that the next one is a whole period away.
snapshot
wait_until 15 has_new >/dev/null
snapshot
pid=$(mainpid)
systemctl reload $UNIT
if wait_until 4 has_new; then
    if [ "$(mainpid)" = "$pid" ]; then
        ok reload "new file $(new_files | tr '\n' ' ')"
    else
        fail reload "main pid changed from $pid to $(mainpid)"
    fi
else
    fail reload "no new file within 4s of systemctl reload ($(systemctl show -p ExecReload --value $UNIT | sed 's/.*argv\[\]=\([^;]*\);.*status=\([^ ]*\).*/ExecReload \1: status \2/'))"
fi

# 5. Restart: active again, a new process and a new file; the files from
# before the restart still replay.
debcheckmark1
sleep 2
snapshot
pid=$(mainpid)
systemctl restart $UNIT
if wait_until 120 restarted_from "$pid" && wait_until 120 has_new_data; then
    ok restart "pid $pid -> $(mainpid), new file $(new_files | tr '\n' ' ')"
else
    fail restart "$(systemctl is-active $UNIT), pid $pid -> $(mainpid)"
fi

# 6. Replay of the whole directory: both markers, across the restart (a
# reload first closes the file that holds the second).
debcheckmark2
sleep 2
systemctl reload $UNIT
sleep 2
if timeout 300 tracer replay $DIR >$T/replay.out 2>$T/replay.err; then
    n1=$(grep -c debcheckmark1 $T/replay.out)
    n2=$(grep -c debcheckmark2 $T/replay.out)
    nt=$(grep -c 'true' $T/replay.out)
    detail="$(wc -l <$T/replay.out) lines; debcheckmark1 $n1, debcheckmark2 $n2, true $nt"
    if [ "$n1" -ge 1 ] && [ "$n2" -ge 1 ]; then
        ok replay "$detail"
    else
        fail replay "$detail"
        grep -m 5 exec $T/replay.out | infos replay
    fi
else
    rc=$?
    fail replay "exit $rc: $(tail -n 1 $T/replay.err)"
    infos replay <$T/replay.err
    # Which file: each one alone.
    for f in "$DIR"/*; do
        tracer replay "$f" >/dev/null 2>$T/one.err || info "replay $f: exit $?: $(tail -n 1 $T/one.err)"
    done
fi

# 7. A SIGKILL: systemd restarts it (Restart=on-failure).
pid=$(mainpid)
n0=$(systemctl show -p NRestarts --value $UNIT)
systemctl kill -s KILL $UNIT
if wait_until 120 restarted_from "$pid"; then
    ok kill_restart "pid $pid -> $(mainpid), NRestarts $n0 -> $(systemctl show -p NRestarts --value $UNIT)"
else
    fail kill_restart "$(systemctl is-active $UNIT), pid $pid -> $(mainpid)"
fi

finish

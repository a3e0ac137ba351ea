#!/bin/sh
# PID 1 of a `cargo xtask vm-test` guest (built by xtask/src/vm/initramfs.rs).
# Mounts what the live tests expect of a normal system, loads the modules the
# kernel has as =m, runs every test on its own and prints one
# `@@tracer-vm-result` line per test on the serial console, then powers off.
# Our own steps use busybox by full path, so the host programs the tests run
# (mount, mkfs.ext4, ...) are the only ones on PATH (an arm64 guest has
# busybox applets there instead). $TRACER is the static release tracer.
BB=/.vm/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
# For the few tests whose guarantees differ here (tests/common).
export TRACER_KERNEL_MATRIX=1
. /.vm/config

$BB mount -t proc proc /proc
$BB mount -t sysfs sysfs /sys
$BB mount -t devtmpfs devtmpfs /dev
$BB mkdir -p /dev/pts /dev/shm
$BB mount -t devpts devpts /dev/pts
$BB mount -t tmpfs tmpfs /dev/shm
# /tmp and /run stay on the initramfs (itself a writable tmpfs): the test
# binaries sit at their host paths, which may be under /tmp (a clone there).
$BB chmod 1777 /tmp
$BB mount -t cgroup2 cgroup2 /sys/fs/cgroup
$BB mount -t bpf bpf /sys/fs/bpf
# Optional: only for looking around when a test fails.
$BB mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
$BB mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
$BB ip link set lo up
$BB mkdir -p /run/vm

# `quiet` kept boot short; from here warnings reach the console too, so a
# lockup's or an oops's stacks (KERN_DEFAULT) are in the console log.
echo 5 >/proc/sys/kernel/printk
echo "@@tracer-vm uname $($BB uname -r)"
echo "@@tracer-vm machine $($BB uname -m)"
read -r up _ </proc/uptime
echo "@@tracer-vm uptime $up"

for ko in /.vm/modules/*.ko; do
    [ -e "$ko" ] || continue
    if $BB insmod "$ko"; then
        echo "@@tracer-vm module $ko ok"
    else
        echo "@@tracer-vm module $ko FAILED"
    fi
done

# What the tracer's probes choose on this kernel (its --verbose notes).
"$TRACER" trace --verbose --duration 1s 2>&1 >/dev/null </dev/null |
    while IFS= read -r l; do
        case "$l" in
        "tracer: attached"* | "tracer: lost"* | "tracer: not shown"* | "tracer: no events" | "tracer: "*" event: "* | "tracer: "*" events: "*) ;;
        *) echo "@@tracer-vm probe ${l#tracer: }" ;;
        esac
    done

SKIP=/run/vm/skip
OUT=/run/vm/out
echo "@@tracer-vm tests-begin"
while read -r bin; do
    stem=$($BB basename "$bin")
    stem=${stem%-*}
    if ! "$bin" --list --format terse >/run/vm/list 2>&1 </dev/null; then
        echo "@@tracer-vm-result $stem::(list) FAILED"
        $BB tail -n 20 /run/vm/list | while IFS= read -r l; do echo "@@tracer-vm out $l"; done
        continue
    fi
    $BB sed -n 's/: test$//p' /run/vm/list >/run/vm/names
    while read -r test; do
        # The `live` binary's tests carry their module (`trace::fork_...`),
        # which names them; other binaries' tests get the binary's name.
        case "$test" in
        *::*) name=$test ;;
        *) name=$stem::$test ;;
        esac
        if [ -n "$ONLY" ]; then
            hit=
            for p in $ONLY; do
                case "$name" in "$p"*) hit=1 ;; esac
            done
            [ -n "$hit" ] || continue
        fi
        if [ -n "$FILTER" ]; then
            hit=
            for f in $FILTER; do
                case "$name" in *"$f"*) hit=1 ;; esac
            done
            [ -n "$hit" ] || continue
        fi
        run=0
        while [ "$run" -lt "$REPEAT" ]; do
            run=$((run + 1))
            echo "@@tracer-vm begin $name"
            $BB rm -f "$SKIP"
            TRACER_SKIP_FILE=$SKIP $BB timeout "$TEST_TIMEOUT" \
                "$bin" --exact "$test" --test-threads=1 >"$OUT" 2>&1 </dev/null
            rc=$?
            if [ "$rc" != 0 ]; then
                [ "$rc" = 124 ] && echo "(timed out after $TEST_TIMEOUT s in the guest)" >>"$OUT"
                echo "@@tracer-vm-result $name FAILED"
                $BB tail -n "$OUTPUT_LINES" "$OUT" | while IFS= read -r l; do
                    echo "@@tracer-vm out $l"
                done
            elif [ -e "$SKIP" ]; then
                echo "@@tracer-vm-result $name skip $($BB head -n 1 "$SKIP")"
            else
                echo "@@tracer-vm-result $name ok"
            fi
        done
    done </run/vm/names
done </.vm/tests
echo "@@tracer-vm done"
$BB poweroff -f

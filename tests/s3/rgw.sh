#!/bin/bash
# A private single-node Ceph RADOS Gateway on loopback, for tests and demos.
#
#   rgw.sh start DIR PORT ACCESS_KEY SECRET_KEY   start; prints "ready"
#   rgw.sh stop DIR                               stop (idempotent)
#   rgw.sh mb DIR BUCKET...                       create buckets (S3, signed)
#
# Everything (conf, data, logs, pids, keyring) lives under DIR; /etc/ceph is
# never read (every tool gets -c DIR/ceph.conf).  Ports: radosgw on PORT,
# mon on PORT+1, OSD messengers in PORT+2..PORT+9, all on 127.0.0.1.
# The OSD runs on memstore (RAM), so every start rebuilds from scratch.
# Each radosgw request is logged as one "beast: ..." line in DIR/rgw.log.
# Ceph's own cephx is off; radosgw still enforces S3 SigV4 signatures.
set -u

die() { echo "rgw.sh: $*" >&2; exit 1; }

usage() {
    sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Bounded waits everywhere: a hung ceph CLI must not hang a test run.
CEPH_TIMEOUT=${RGW_CEPH_TIMEOUT:-10}
# Ticks of 50 ms to wait after SIGTERM before SIGKILL.
STOP_GRACE_TICKS=${RGW_STOP_GRACE_TICKS:-10}

now_ms() { date +%s%3N; }

ceph_cli() {
    timeout "$CEPH_TIMEOUT" ceph -c "$CONF" --connect-timeout 5 "$@" \
        </dev/null
}

# wait_for SECONDS DAEMON CMD...: retry CMD every 50 ms until it succeeds;
# give up at once if DAEMON (mon, osd, rgw) has died.
wait_for() {
    local limit=$1 daemon=$2; shift 2
    local end=$(( $(now_ms) + limit * 1000 ))
    while ! "$@" >/dev/null 2>&1; do
        pid_alive "$(cat "$DIR/run/$daemon.pid" 2>/dev/null)" || return 1
        [ "$(now_ms)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# A zombie counts as dead: our daemons are reparented to PID 1, which in
# some containers reaps late.
pid_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}

# Launch a daemon in the foreground of its own session, detached from our
# stdio (so callers capturing our output are not held open), record its PID.
launch() {
    local name=$1; shift
    setsid "$@" -f -c "$CONF" </dev/null >>"$DIR/log/$name.out" 2>&1 &
    echo $! >"$DIR/run/$name.pid"
}

stop_one() {
    local pidf="$DIR/run/$1.pid" pid
    [ -f "$pidf" ] || return 0
    pid=$(cat "$pidf" 2>/dev/null)
    # Only ever signal our own daemon, never a process that reused the PID.
    if pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null \
            | grep -qF -- "$CONF"; then
        # Short grace: state is throwaway (memstore) and a clean radosgw
        # shutdown takes ~7 s, so SIGKILL soon instead of waiting.
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 "$STOP_GRACE_TICKS"); do
            pid_alive "$pid" || break
            sleep 0.05
        done
        if pid_alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null
            for _ in $(seq 1 40); do
                pid_alive "$pid" || break
                sleep 0.05
            done
        fi
    fi
    rm -f "$pidf"
}

cmd_stop() {
    [ -d "$DIR/run" ] || return 0
    stop_one rgw
    stop_one osd
    stop_one mon
    return 0
}

write_conf() {
    local fsid=$1
    cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = $(( PORT + 2 ))
ms bind port max = $(( PORT + 9 ))
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
log to stderr = false
err to stderr = true
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.01
paxos min wait = 0.001
mon osd reporter subtree level = osd

[osd]
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-2147483648}
osd op num shards = 1
osd op num threads per shard = 2

[client.rgw.test]
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $DIR/rgw
log file = $DIR/rgw.log
debug rgw = 1/5
rgw dns name = 127.0.0.1
rgw enable usage log = false
rgw thread pool size = 64
EOF
}

# Our radosgw, not whatever else might answer on the port.
http_up() {
    curl -s --max-time 1 "http://127.0.0.1:$PORT/" \
        | grep -q ListAllMyBucketsResult
}

port_busy() {
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

osd_up() {
    ceph_cli osd dump 2>/dev/null | grep -q '^osd\.0 up'
}

fail_start() {
    echo "rgw.sh: start failed: $*" >&2
    local f
    for f in "$DIR"/log/*.out "$DIR"/log/mon.a.log "$DIR"/log/osd.0.log \
             "$DIR"/rgw.log; do
        [ -s "$f" ] || continue
        echo "---- tail $f" >&2
        tail -n 15 "$f" >&2
    done
    cmd_stop
    exit 1
}

cmd_start() {
    local t0 fsid osd_uuid osd_id
    t0=$(now_ms)
    [[ "$PORT" =~ ^[0-9]+$ ]] || die "bad PORT: $PORT"
    MON_PORT=$(( PORT + 1 ))

    # memstore does not survive restarts: always a clean cluster.
    cmd_stop
    local p
    for p in "$PORT" "$MON_PORT"; do
        ! port_busy "$p" || die "port $p is already in use"
    done
    rm -rf "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/run" "$DIR/log" \
        "$DIR/monmap" "$DIR/keyring" "$DIR/rgw.log" "$DIR/ceph.conf" \
        "$DIR/s3.env"
    mkdir -p "$DIR/mon/ceph-a" "$DIR/osd/ceph-0" "$DIR/rgw" "$DIR/run" \
        "$DIR/log" || die "cannot create $DIR"

    fsid=$(uuidgen)
    osd_uuid=$(uuidgen)
    write_conf "$fsid"
    printf 'S3_ENDPOINT=%q\nS3_ACCESS_KEY=%q\nS3_SECRET_KEY=%q\n' \
        "http://127.0.0.1:$PORT" "$ACCESS" "$SECRET" >"$DIR/s3.env"
    chmod 600 "$DIR/s3.env"

    # A mon keyring is still expected by --mkfs even with auth none.
    ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. \
        --cap mon 'allow *' >/dev/null 2>&1 || die "ceph-authtool failed"
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" \
        "$DIR/monmap" >/dev/null 2>&1 || die "monmaptool failed"
    timeout 30 ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" \
        --keyring "$DIR/keyring" </dev/null >>"$DIR/log/mon.out" 2>&1 \
        || fail_start "ceph-mon --mkfs"

    launch mon ceph-mon -i a
    wait_for 20 mon ceph_cli mon stat || fail_start "mon did not answer"

    osd_id=$(ceph_cli osd new "$osd_uuid" 2>>"$DIR/log/osd.out") \
        || fail_start "ceph osd new"
    [ "$osd_id" = 0 ] || fail_start "unexpected osd id '$osd_id'"
    timeout 30 ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" \
        </dev/null >>"$DIR/log/osd.out" 2>&1 || fail_start "ceph-osd --mkfs"
    launch osd ceph-osd -i 0
    wait_for 30 osd osd_up || fail_start "osd.0 not up"

    launch rgw radosgw -n client.rgw.test
    wait_for 30 rgw http_up || fail_start "radosgw not answering on $PORT"

    timeout 30 radosgw-admin -c "$CONF" user create --uid=test \
        --display-name=test --access-key="$ACCESS" --secret-key="$SECRET" \
        </dev/null >"$DIR/log/user.out" 2>&1 \
        || fail_start "radosgw-admin user create"
    grep -q "\"access_key\": \"$ACCESS\"" "$DIR/log/user.out" \
        || fail_start "user keys not set"

    # Visible in test logs; the harness reads it for timing reports.
    echo "$(( $(now_ms) - t0 ))" >"$DIR/start_ms"
    echo ready
}

# Buckets through S3 itself (signed with the keys saved at start), so they
# are owned by the test user exactly as a client would create them.
cmd_mb() {
    [ -f "$DIR/s3.env" ] || die "no $DIR/s3.env: not started?"
    # shellcheck disable=SC1091
    . "$DIR/s3.env"
    local py
    py=$(cat <<'EOF'
import os, sys
import boto3
from botocore.config import Config
s3 = boto3.client(
    "s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["S3_ACCESS_KEY"],
    aws_secret_access_key=os.environ["S3_SECRET_KEY"],
    config=Config(s3={"addressing_style": "path"},
                  retries={"max_attempts": 2}))
for b in sys.argv[1:]:
    try:
        s3.create_bucket(Bucket=b)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    print(b)
EOF
)
    S3_ENDPOINT=$S3_ENDPOINT S3_ACCESS_KEY=$S3_ACCESS_KEY \
    S3_SECRET_KEY=$S3_SECRET_KEY timeout 60 /usr/bin/python3 -c "$py" "$@" \
        </dev/null || die "bucket creation failed"
}

[ $# -ge 2 ] || usage
ACTION=$1
DIR=$(realpath -m "$2")
CONF="$DIR/ceph.conf"
case "$ACTION" in
start)
    [ $# -eq 5 ] || usage
    PORT=$3 ACCESS=$4 SECRET=$5
    cmd_start
    ;;
stop)
    [ $# -eq 2 ] || usage
    cmd_stop
    ;;
mb)
    shift 2
    [ $# -ge 1 ] || usage
    cmd_mb "$@"
    ;;
*)
    usage
    ;;
esac

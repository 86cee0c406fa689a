# Sourced by cluster.sh and bench.sh: a throwaway PostgreSQL 15 from Debian, on loopback, in a directory of ours.
#   pg_start DIR   installs postgresql-15 if missing, initdb in DIR/pg, starts it on a free port; sets pg_pid and
#                  pg_url (postgres://eventack@127.0.0.1:PORT/eventack, database created). synchronous_commit
#                  stays on (PostgreSQL's default): a commit returns once its WAL is flushed.
#   pg_stop        stops it (SIGINT: fast shutdown) and waits, by process id.
#   pg_cpu_ticks   CPU time used so far by the server and its backends, in clock ticks (for CPU per event).
#   pg_crash       SIGKILLs the server and every backend at once: what a power cut leaves (cluster-chaos.sh).
#   pg_restart     starts it again on the same directory and port: crash recovery replays the WAL.
#   pg_signal SIG  sends SIG to the server and every backend (STOP and CONT freeze and thaw it).
pgbin=/usr/lib/postgresql/15/bin
pg_pid=""
pg_url=""
pg_dir=""
pg_port=""

pg_start() {
    local dir="$1" port as_postgres=()
    if [ ! -x "$pgbin/postgres" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 > /dev/null
    fi
    # initdb refuses to run as root: run PostgreSQL as its own user, in a directory it owns.
    [ "$(id -u)" = 0 ] && as_postgres=(runuser -u postgres --)
    mkdir -p "$dir/pg"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/pg"
    "${as_postgres[@]}" "$pgbin/initdb" -D "$dir/pg" -A trust -U eventack > "$dir/initdb.log" 2>&1
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    pg_dir="$dir"
    pg_port="$port"
    pg_launch
    psql -q -h 127.0.0.1 -p "$port" -U eventack -d postgres -c "CREATE DATABASE eventack" > /dev/null
    pg_url="postgres://eventack@127.0.0.1:$port/eventack"
}

# Starts the server on pg_dir and pg_port and waits until it accepts connections (after crash recovery, if any).
pg_launch() {
    local as_postgres=()
    [ "$(id -u)" = 0 ] && as_postgres=(runuser -u postgres --)
    rm -f "$pg_dir/pg/postmaster.pid.new"
    "${as_postgres[@]}" "$pgbin/postgres" -D "$pg_dir/pg" -p "$pg_port" -k "$pg_dir/pg" \
        -c listen_addresses=127.0.0.1 >> "$pg_dir/postgres.log" 2>&1 &
    for _ in $(seq 1 300); do
        [ -f "$pg_dir/pg/postmaster.pid" ] && "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
        sleep 0.1
    done
    pg_pid="$(head -1 "$pg_dir/pg/postmaster.pid")"
}

# The server's process and its children (backends, writer, WAL writer…).
pg_processes() {
    [ -n "$pg_pid" ] || return 0
    echo "$pg_pid"
    pgrep -P "$pg_pid" || true
}

pg_signal() {
    local pid parent
    [ -n "$pg_pid" ] || return 0
    for pid in $(pg_processes); do kill "-$1" "$pid" 2> /dev/null || true; done
    # Run as root, the server's parent is runuser, which stops itself when its child stops (job control, as su
    # does) and would then never reap it: it gets the same signal, so that CONT wakes it too.
    parent="$(ps -o ppid= -p "$pg_pid" 2> /dev/null | tr -d ' ' || true)"
    if [ -n "$parent" ] && [ "$(ps -o comm= -p "$parent" 2> /dev/null || true)" = runuser ]; then
        kill "-$1" "$parent" 2> /dev/null || true
    fi
}

pg_crash() {
    local pids
    pids="$(pg_processes)"
    # The children first, then the postmaster, all without warning; wait until every one is gone.
    for pid in $pids; do kill -9 "$pid" 2> /dev/null || true; done
    for _ in $(seq 1 100); do
        local alive=0
        for pid in $pids; do kill -0 "$pid" 2> /dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.05
    done
    pg_pid=""
}

pg_restart() { pg_launch; }

pg_stop() {
    [ -n "$pg_pid" ] || return 0
    kill -INT "$pg_pid" 2> /dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pg_pid" 2> /dev/null || break; sleep 0.1; done
    pg_pid=""
}

pg_cpu_ticks() {
    local total=0 stat
    for stat in /proc/[0-9]*/stat; do
        # fields after the command: 2 state, 3 ppid … 13 utime, 14 stime
        read -r -a f < <(sed 's/^.*) //' "$stat" 2> /dev/null) || continue
        if [ "${f[1]:-}" = "$pg_pid" ] || [ "$stat" = "/proc/$pg_pid/stat" ]; then
            total=$((total + f[11] + f[12]))
        fi
    done
    echo "$total"
}

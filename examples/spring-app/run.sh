#!/bin/sh
# The image's entrypoint: starts the app with a plain classpath (no java -jar).
#
# STAGINGKUB_LIVE_DIR unset: exec java, so java is PID 1 and gets the signals.
# STAGINGKUB_LIVE_DIR=DIR (a writable emptyDir, dev's live mode): the classes are
# run from DIR/classes (a copy of /app/classes made on the first start; it
# survives container restarts), java's pid is in DIR/app.pid, and SIGHUP restarts
# java with whatever DIR/classes holds now. SIGTERM/SIGINT stop java and the script
# with java's status; so does java exiting by itself.
set -u
main=${APP_MAIN:-io.stagingkub.example.Application}

if [ -z "${STAGINGKUB_LIVE_DIR:-}" ]; then
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
  exec java ${JAVA_OPTS:-} -cp "/app/classes:/app/lib/*" "$main" "$@"
fi

live=$STAGINGKUB_LIVE_DIR
if [ ! -d "$live/classes" ]; then  # copy under a temp name: never half a folder
  rm -rf "$live/.classes.tmp"
  cp -R /app/classes "$live/.classes.tmp" && mv "$live/.classes.tmp" "$live/classes" || exit 1
fi

# Live mode restarts the JVM on every synced change: C1 alone (and the serial GC) start it a third
# faster (README.md); LIVE_JAVA_OPTS overrides it (empty for the JVM's default).
live_opts=${LIVE_JAVA_OPTS--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}

start() { # java in the background; its pid written (atomically) once it runs
  sig=''
  # shellcheck disable=SC2086
  java ${JAVA_OPTS:-} $live_opts -cp "$live/classes:/app/lib/*" "$main" "$@" &
  pid=$!
  echo "$pid" >"$live/.app.pid.tmp" && mv -f "$live/.app.pid.tmp" "$live/app.pid"
}

pid='' sig=''
trap 'sig=HUP; kill -TERM "$pid" 2>/dev/null' HUP
trap 'sig=TERM; kill -TERM "$pid" 2>/dev/null' TERM INT
start "$@"
while :; do
  status=0
  # a trapped signal interrupts wait: wait again while java (or its zombie) is there
  while kill -0 "$pid" 2>/dev/null; do wait "$pid"; status=$?; done
  [ "$sig" = HUP ] || exit "$status"  # TERM/INT, or java ended by itself
  start "$@"
done

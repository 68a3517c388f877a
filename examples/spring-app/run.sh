#!/bin/sh
# The image's entrypoint: starts the app with a plain classpath (no java -jar).
#
# STAGINGKUB_LIVE_DIR unset: exec java, so java is PID 1 and gets the signals.
# STAGINGKUB_LIVE_DIR=DIR (a writable emptyDir, dev's live mode): the classes are
# run from DIR/classes (a copy of /app/classes made on the first start; it
# survives container restarts), and SIGHUP restarts the app with whatever
# DIR/classes holds now (by devtools, or a new JVM: below); DIR/app.pid gets a new
# token as each start begins. SIGTERM/SIGINT stop java and the script with java's
# status; so does java exiting by itself.
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

# Live mode restarts the app on every synced change. With Spring Boot devtools in the image
# (/app/devtools, Dockerfile) SIGHUP writes devtools' trigger file and devtools restarts
# the app inside the JVM (0.7 s here); without it, SIGHUP stops the JVM and starts a new
# one (2-3 s; C1 alone and the serial GC start it a third faster). LIVE_JAVA_OPTS
# overrides those two options. app.pid gets a new token each time a start begins (the
# old code has stopped serving by then): what `invoke dev` waits for.
live_opts=${LIVE_JAVA_OPTS--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}
classpath="$live/classes:/app/lib/*"
trigger=.stagingkub-restart
devtools=''
if ls /app/devtools/*.jar >/dev/null 2>&1; then
  devtools=yes
  classpath="$classpath:/app/devtools/*"
  live_opts="$live_opts -Dspring.devtools.restart.trigger-file=$trigger
    -Dspring.devtools.restart.poll-interval=40ms -Dspring.devtools.restart.quiet-period=10ms
    -Dspring.devtools.add-properties=false -Dspring.devtools.livereload.enabled=false"
fi

token() { # a new token in app.pid, written atomically
  echo "$1.$(date +%s%N)" >"$live/.app.pid.tmp" && mv -f "$live/.app.pid.tmp" "$live/app.pid"
}

relay() { # java's output to ours; each "Starting ... using Java" line (Spring Boot's first
  # line of a start, devtools' restarts too) gives app.pid a new token, and its last line,
  # "Started ... in N seconds" or "Application run failed", copies that token to
  # app.started (with "failed" after it): what `invoke dev` waits for in the container
  while IFS= read -r line; do
    printf '%s\n' "$line"
    case $line in
      *"Starting "*" using Java "*) token "$pid" ;;
      *"Started "*" in "*" seconds"*) started '' ;;
      *"Application run failed"* | *"APPLICATION FAILED TO START"*) started ' failed' ;;
    esac
  done
}

started() { # app.started: app.pid's token, and what the start ended with
  echo "$(cat "$live/app.pid")$1" >"$live/.app.started.tmp" &&
    mv -f "$live/.app.started.tmp" "$live/app.started"
}

start() { # java in the background, its output through relay
  sig=''
  fifo=$live/.out.fifo
  rm -f "$fifo" && mkfifo "$fifo" || exit 1
  # java first (its open of the FIFO waits for relay's), so that relay knows its pid
  # shellcheck disable=SC2086
  java ${JAVA_OPTS:-} $live_opts -cp "$classpath" "$main" "$@" >"$fifo" 2>&1 &
  pid=$!
  relay <"$fifo" &
  [ -n "$devtools" ] || token "$pid"
}

restart() { # SIGHUP: devtools' trigger, or a new JVM
  if [ -n "$devtools" ]; then
    # devtools restarts for changed files only, not the trigger file itself, and not for
    # static/** alone: a stamp of our own makes every trigger a restart
    date +%s%N >"$live/classes/.stagingkub-stamp"
    date +%s%N >"$live/classes/$trigger"
  else
    sig=HUP
    kill -TERM "$pid" 2>/dev/null
  fi
}

pid='' sig=''
trap restart HUP
trap 'sig=TERM; kill -TERM "$pid" 2>/dev/null' TERM INT
start "$@"
while :; do
  status=0
  # a trapped signal interrupts wait: wait again while java (or its zombie) is there
  while kill -0 "$pid" 2>/dev/null; do wait "$pid"; status=$?; done
  [ "$sig" = HUP ] || exit "$status"  # TERM/INT, or java ended by itself
  start "$@"
done

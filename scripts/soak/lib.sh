# Shared by the soak scripts: sampling a process's resident memory and open files.
# shellcheck shell=bash

# rss_kb PID / fd_count PID: VmRSS in KiB and the number of open descriptors.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# monitor PID SECONDS INTERVAL CSV [LINES_FILE]: every INTERVAL seconds for SECONDS
# (or until PID exits) append "t_s,rss_kb,fds,lines" to CSV. Returns when done.
monitor() {
  local pid=$1 secs=$2 every=$3 csv=$4 lines_file=${5:-} t0 now rss fds lines
  t0=$(date +%s)
  echo "t_s,rss_kb,fds,lines" >"$csv"
  while kill -0 "$pid" 2>/dev/null; do
    now=$(( $(date +%s) - t0 ))
    [ "$now" -ge "$secs" ] && break
    rss=$(rss_kb "$pid"); fds=$(fd_count "$pid")
    lines=0; [ -n "$lines_file" ] && lines=$(wc -l <"$lines_file")
    [ -n "$rss" ] && echo "$now,$rss,$fds,$lines" >>"$csv"
    sleep "$every"
  done
}

# flatness CSV WARM_S: over the samples at t >= WARM_S prints
#   "samples N rss_first_kb A rss_last_kb B rss_min_kb C rss_max_kb D slope_kb_per_min S fds_min E fds_max F"
flatness() {
  awk -F, -v warm="$2" 'NR > 1 && $1 >= warm {
      n++; t[n] = $1; r[n] = $2; if (n == 1 || $2 < rmin) rmin = $2; if ($2 > rmax) rmax = $2;
      if (n == 1 || $3 < fmin) fmin = $3; if ($3 > fmax) fmax = $3; st += $1; sr += $2 }
    END {
      if (n < 2) { print "samples", n; exit }
      mt = st / n; mr = sr / n; num = 0; den = 0
      for (i = 1; i <= n; i++) { num += (t[i] - mt) * (r[i] - mr); den += (t[i] - mt) ^ 2 }
      printf "samples %d rss_first_kb %d rss_last_kb %d rss_min_kb %d rss_max_kb %d slope_kb_per_min %.1f fds_min %d fds_max %d\n",
             n, r[1], r[n], rmin, rmax, (den > 0 ? 60 * num / den : 0), fmin, fmax }' "$1"
}

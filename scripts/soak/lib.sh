# Shared by the soak scripts: sampling a process's resident memory and open files.
# shellcheck shell=bash

# rss_kb PID: "VmRSS RssAnon RssFile" in KiB (RssAnon is the heap and other private
# memory: what a leak grows; RssFile are mapped file pages, e.g. the weights used in
# place, which come and go with the page cache). fd_count PID: open descriptors.
rss_kb() { awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s%s", sep, $2; sep = ","} END {print ""}' "/proc/$1/status" 2>/dev/null; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# monitor PID SECONDS INTERVAL CSV [LINES_FILE]: every INTERVAL seconds for SECONDS
# (or until PID exits) append "t_s,rss_kb,anon_kb,file_kb,fds,lines" to CSV.
monitor() {
  local pid=$1 secs=$2 every=$3 csv=$4 lines_file=${5:-} t0 now rss fds lines
  t0=$(date +%s)
  echo "t_s,rss_kb,anon_kb,file_kb,fds,lines" >"$csv"
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
#   "samples N rss_min_kb A rss_max_kb B anon_min_kb C anon_max_kb D anon_growth_kb G
#    anon_slope_kb_per_min S fds_min E fds_max F"
# where G = (largest RssAnon in the last third) - (largest RssAnon in the first third):
# a leak makes the peaks climb; allocations that come and go within a batch do not.
flatness() {
  awk -F, -v warm="$2" 'NR > 1 && $1 >= warm {
      n++; t[n] = $1; a[n] = $3
      if (n == 1 || $2 < rmin) rmin = $2; if ($2 > rmax) rmax = $2
      if (n == 1 || $3 < amin) amin = $3; if ($3 > amax) amax = $3
      if (n == 1 || $5 < fmin) fmin = $5; if ($5 > fmax) fmax = $5 }
    END {
      if (n < 6) { print "samples", n + 0; exit }
      third = int(n / 3); p1 = 0; p3 = 0; st = 0; sa = 0
      for (i = 1; i <= n; i++) { st += t[i]; sa += a[i] }
      for (i = 1; i <= third; i++) if (a[i] > p1) p1 = a[i]
      for (i = n - third + 1; i <= n; i++) if (a[i] > p3) p3 = a[i]
      mt = st / n; ma = sa / n; num = 0; den = 0
      for (i = 1; i <= n; i++) { num += (t[i] - mt) * (a[i] - ma); den += (t[i] - mt) ^ 2 }
      printf "samples %d rss_min_kb %d rss_max_kb %d anon_min_kb %d anon_max_kb %d anon_growth_kb %d anon_slope_kb_per_min %.1f fds_min %d fds_max %d\n",
             n, rmin, rmax, amin, amax, p3 - p1, (den > 0 ? 60 * num / den : 0), fmin, fmax }' "$1"
}

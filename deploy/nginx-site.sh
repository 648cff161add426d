#!/bin/sh
# nginx's site for several stepstream instances on one Redis: deploy/nginx.conf with its `upstream stepstream` block
# replaced by deploy/nginx-redis.conf's map and upstream (each chat to one instance), and the addresses set.
# compose.yaml's nginx runs it at start (the nginx image runs /docker-entrypoint.d/*.sh before nginx), and
# test/e2e/nginx.test.ts runs it too and tests what it writes with a real nginx: one site, never two copies.
#
#   NGINX_LISTEN           what the server's `listen` says; default 80
#   STEPSTREAM_UPSTREAMS   the instances, `host:port` separated by spaces; default 127.0.0.1:8081 127.0.0.1:8082
#   STEPSTREAM_NGINX_DIR   where nginx.conf and nginx-redis.conf are; default /etc/stepstream
#   STEPSTREAM_NGINX_SITE  the file written; default /etc/nginx/conf.d/default.conf (the image's own site, replaced)
set -eu
dir=${STEPSTREAM_NGINX_DIR:-/etc/stepstream}
site=${STEPSTREAM_NGINX_SITE:-/etc/nginx/conf.d/default.conf}
awk -v several="$dir/nginx-redis.conf" -v listen="${NGINX_LISTEN:-80}" \
  -v upstreams="${STEPSTREAM_UPSTREAMS:-127.0.0.1:8081 127.0.0.1:8082}" '
  # nginx-redis.conf names two instances on lines of their own: the first becomes every instance, the second goes.
  function splice(line,    count, names, i) {
    if (line ~ /^ *server 127\.0\.0\.1:8081;/) {
      count = split(upstreams, names, " ")
      for (i = 1; i <= count; i++) print "    server " names[i] ";"
      found["upstreams"] = 1
    } else if (line !~ /^ *server 127\.0\.0\.1:8082;/) print line
  }
  /^upstream stepstream \{/ {
    while ((getline line < several) > 0) splice(line)
    found["upstream"] = 1
    inside = 1
    next
  }
  inside { if ($0 ~ /^\}/) inside = 0; next }
  /^ *listen 80;/ { sub(/listen 80;/, "listen " listen ";"); found["listen"] = 1 }
  { print }
  END {
    if (!found["upstream"] || !found["upstreams"] || !found["listen"]) {
      print "nginx-site.sh: deploy/nginx.conf or deploy/nginx-redis.conf no longer has the lines this script replaces" > "/dev/stderr"
      exit 1
    }
  }
' "$dir/nginx.conf" > "$site.new"
mv "$site.new" "$site"

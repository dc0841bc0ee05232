# Shared by the scripts in scripts/: where things are, and how to get the
# system packages and the local PostgreSQL the project needs. Source it; it
# only defines things.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="${MODELPICK_TOOLS_DIR:-$ROOT/.tools}"
# Built tools are also kept here, so a fresh clone on the same machine (CI)
# reuses them instead of building again.
TOOLS_CACHE="${MODELPICK_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelpick-tools}"
export PATH="$TOOLS_DIR/bin:$PATH"

# The project's database, as the role that owns it (hosted Supabase's
# `postgres`, played here by `project_owner`; devstack/bootstrap/supabase.sql).
DEFAULT_DATABASE_URL="postgres://project_owner:postgres@127.0.0.1:5432/modelpick"
# Every local role the bootstrap creates has this password.
LOCAL_ROLE_PASSWORD=postgres

log() { printf '\033[1;33m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $*"
  fi
}

APT_UPDATED=""
# Installs the named Debian packages that are not installed yet.
ensure_apt_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get to install them"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# $1 with its user and password replaced by $2 and $3 (query kept).
url_with_user() {
  local url="$1" user="$2" password="$3" scheme rest
  scheme="${url%%://*}"
  rest="${url#*://}"
  case "${rest%%/*}" in *@*) rest="${rest#*@}" ;; esac
  printf '%s://%s:%s@%s' "$scheme" "$user" "$password" "$rest"
}

# The user name in $1.
user_of() {
  local rest="${1#*://}"
  case "${rest%%/*}" in *@*) rest="${rest%%@*}"; printf '%s' "${rest%%:*}" ;; esac
}

# The URL of the maintenance database on the same server as $1, as a
# superuser: MODELPICK_ADMIN_URL when set, else $1's credentials when they
# are not the project role's, else postgres/postgres (Supabase's local
# default and what ensure_postgres sets on a fresh cluster).
admin_url_of() {
  local url="${1%%\?*}"
  if [ -n "${MODELPICK_ADMIN_URL:-}" ]; then
    printf '%s' "$MODELPICK_ADMIN_URL"
    return
  fi
  if [ "$(user_of "$url")" = project_owner ]; then
    url="$(url_with_user "$url" postgres postgres)"
  fi
  printf '%s/postgres' "${url%/*}"
}

database_name_of() {
  local url="${1%%\?*}"
  printf '%s' "${url##*/}"
}

url_is_local() {
  case "$1" in
    *@127.0.0.1[:/]* | *@localhost[:/]* | *@\[::1\][:/]*) return 0 ;;
    *) return 1 ;;
  esac
}

pg_answers() { psql "$1" -XAtqc 'select 1' >/dev/null 2>&1; }

installed_pg_major() {
  ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1
}

# Makes sure a PostgreSQL server with pgTAP answers at the server of $1. For
# a local URL it installs PostgreSQL from the distribution when missing,
# starts (or creates) a cluster when none runs, and gives the postgres role
# the password the URL carries when password login is refused, but only in
# a PostgreSQL it installed itself: an existing cluster's passwords are
# never changed.
ensure_postgres() {
  local url="$1" admin major installed_here=0
  admin="$(admin_url_of "$url")"
  if ! url_is_local "$url"; then
    pg_answers "$admin" || die "PostgreSQL at $admin does not answer"
    return 0
  fi
  if ! command -v psql >/dev/null 2>&1 || [ -z "$(installed_pg_major)" ]; then
    ensure_apt_packages postgresql postgresql-contrib
    installed_here=1
  fi
  major="$(installed_pg_major)"
  [ -n "$major" ] || die "PostgreSQL did not install"
  [ "$major" -ge 15 ] || die "PostgreSQL $major is too old; 15 or newer is needed"
  ensure_apt_packages "postgresql-$major-pgtap" libtap-parser-sourcehandler-pgtap-perl
  if ! pg_answers "$admin"; then
    if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
      log "creating a PostgreSQL $major cluster"
      as_root pg_createcluster "$major" main >/dev/null
      installed_here=1
    fi
    local cluster
    cluster="$(pg_lsclusters -h | head -n 1 | awk '{print $1" "$2}')"
    if ! pg_lsclusters -h | head -n 1 | grep -q online; then
      log "starting PostgreSQL cluster $cluster"
      # shellcheck disable=SC2086
      as_root pg_ctlcluster --skip-systemctl-redirect $cluster start
    fi
    local i
    for i in $(seq 1 30); do
      pg_answers "$admin" && break
      # A fresh Debian cluster refuses password-less TCP logins: set the
      # password the URL uses, through the local socket as the postgres user.
      if [ "$i" -eq 3 ] && [ "$installed_here" = 1 ]; then
        local password
        password="$(printf '%s' "$admin" | sed -n 's#^[a-z]*://[^:/@]*:\([^@]*\)@.*#\1#p')"
        password="${password:-postgres}"
        as_root runuser -u postgres -- psql -XAtqc "alter role postgres password '${password//\'/\'\'}'" >/dev/null 2>&1 || true
      fi
      sleep 1
    done
  fi
  pg_answers "$admin" || die "PostgreSQL at $admin does not answer or refuses the login; set MODELPICK_ADMIN_URL to a superuser URL that works (its password is never changed here)"
}

POSTRUST_VERSION=3.1.0

# Installs postrust-server (the PostgREST-compatible server behind /rest/v1)
# into $TOOLS_DIR/bin, built --locked from the lockfile in devstack/postrust.
# A stamp records what was built, so later runs reuse it.
ensure_postrust() {
  local lock="$ROOT/devstack/postrust/Cargo.lock"
  local stamp="$TOOLS_DIR/postrust.stamp"
  local want
  want="$POSTRUST_VERSION $(sha256sum "$lock" | cut -c1-16)"
  if [ -x "$TOOLS_DIR/bin/postrust" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  if [ -x "$TOOLS_CACHE/bin/postrust" ] && [ "$(cat "$TOOLS_CACHE/postrust.stamp" 2>/dev/null)" = "$want" ]; then
    mkdir -p "$TOOLS_DIR/bin"
    cp "$TOOLS_CACHE/bin/postrust" "$TOOLS_DIR/bin/postrust"
    echo "$want" >"$stamp"
    return 0
  fi
  log "building postrust-server $POSTRUST_VERSION (a few minutes, once)"
  local build="$TOOLS_DIR/build"
  local src="$build/postrust-server-$POSTRUST_VERSION"
  mkdir -p "$build/fetch/src"
  if [ ! -f "$src/Cargo.toml" ]; then
    cat >"$build/fetch/Cargo.toml" <<TOML
[package]
name = "postrust-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
postrust-server = "=$POSTRUST_VERSION"
[workspace]
TOML
    : >"$build/fetch/src/lib.rs"
    (cd "$build/fetch" && cargo fetch -q) || die "could not download postrust-server"
    local crate
    crate="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"postrust-server-$POSTRUST_VERSION.crate" | head -n 1)"
    [ -f "$crate" ] || die "postrust-server $POSTRUST_VERSION was not downloaded"
    tar -xzf "$crate" -C "$build"
  fi
  cp "$lock" "$src/Cargo.lock"
  # The tools folder sits inside this repository's workspace; keep the
  # crate out of it.
  grep -q '^\[workspace\]' "$src/Cargo.toml" || printf '\n[workspace]\n' >>"$src/Cargo.toml"
  CARGO_TARGET_DIR="$build/target" cargo install --quiet --locked --force \
    --path "$src" --root "$TOOLS_DIR" --features compat-key-order ||
    die "could not build postrust-server"
  rm -rf "$build/target"
  echo "$want" >"$stamp"
  if mkdir -p "$TOOLS_CACHE/bin" 2>/dev/null; then
    cp "$TOOLS_DIR/bin/postrust" "$TOOLS_CACHE/bin/postrust" && echo "$want" >"$TOOLS_CACHE/postrust.stamp"
  fi
}

# Node.js and the project's npm packages (package-lock.json), for the
# supabase-js tests and the pages.
ensure_node_modules() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    ensure_apt_packages nodejs npm
  fi
  local stamp="$ROOT/node_modules/.modelpick-lock"
  local want
  want="$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
    echo "$want" >"$stamp"
  fi
}

# The Supabase CLI, from npm (package.json pins it; its platform binary
# comes with it). `supabase db reset --db-url` applies supabase/ to any
# Postgres; the commands that need Docker are not used.
SUPABASE_CLI_VERSION=2.117.0
ensure_supabase_cli() {
  ensure_node_modules
  local have
  have="$("$ROOT/node_modules/.bin/supabase" --version 2>/dev/null)" || true
  [ "$have" = "$SUPABASE_CLI_VERSION" ] ||
    die "the Supabase CLI in node_modules is '${have:-missing}', not $SUPABASE_CLI_VERSION (package.json pins it)"
}

# The Supabase CLI on this project, quiet: no telemetry, no update check,
# its home under target/ rather than the user's.
supabase_cli() {
  mkdir -p "$ROOT/target/supabase-home"
  (cd "$ROOT" && DO_NOT_TRACK=1 SUPABASE_NO_UPDATE_NOTIFIER=1 SUPABASE_HOME="$ROOT/target/supabase-home" \
    "$ROOT/node_modules/.bin/supabase" --workdir "$ROOT" "$@")
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until $1 answers HTTP, for at most $2 seconds.
wait_for_http() {
  local url="$1" deadline=$((SECONDS + ${2:-30}))
  until curl -s -o /dev/null "$url"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# The schema files, in the order config.toml's [db.migrations] schema_paths
# lists them, relative to supabase/.
schema_paths() {
  sed -n '/^schema_paths = \[/,/^\]/p' "$ROOT/supabase/config.toml" |
    sed -n 's/^ *"\.\/\(.*\)",\{0,1\}$/\1/p'
}

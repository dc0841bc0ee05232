# Shared by the scripts in scripts/: where things are, and how to get the
# system packages and the local PostgreSQL the project needs. Source it; it
# only defines things.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="${MODELPICK_TOOLS_DIR:-$ROOT/.tools}"
export PATH="$TOOLS_DIR/bin:$PATH"

# Supabase's local stack uses postgres/postgres; so do we.
DEFAULT_DATABASE_URL="postgres://postgres:postgres@127.0.0.1:5432/modelpick"

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

# The URL of the maintenance database on the same server as $1.
admin_url_of() {
  local url="${1%%\?*}"
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
# the password the URL carries when password login is refused.
ensure_postgres() {
  local url="$1" admin major
  admin="$(admin_url_of "$url")"
  if ! url_is_local "$url"; then
    pg_answers "$admin" || die "PostgreSQL at $admin does not answer"
    return 0
  fi
  if ! command -v psql >/dev/null 2>&1 || [ -z "$(installed_pg_major)" ]; then
    ensure_apt_packages postgresql postgresql-contrib
  fi
  major="$(installed_pg_major)"
  [ -n "$major" ] || die "PostgreSQL did not install"
  [ "$major" -ge 15 ] || die "PostgreSQL $major is too old; 15 or newer is needed"
  ensure_apt_packages "postgresql-$major-pgtap" libtap-parser-sourcehandler-pgtap-perl
  if ! pg_answers "$admin"; then
    if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
      log "creating a PostgreSQL $major cluster"
      as_root pg_createcluster "$major" main >/dev/null
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
      if [ "$i" -eq 3 ]; then
        local password
        password="$(printf '%s' "$url" | sed -n 's#^[a-z]*://[^:/@]*:\([^@]*\)@.*#\1#p')"
        password="${password:-postgres}"
        as_root runuser -u postgres -- psql -XAtqc "alter role postgres password '${password//\'/\'\'}'" >/dev/null 2>&1 || true
      fi
      sleep 1
    done
  fi
  pg_answers "$admin" || die "PostgreSQL at $admin does not answer"
}

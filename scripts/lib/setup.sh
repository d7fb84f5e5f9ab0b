# Shared set-up steps for the README's two commands and CI. Source it; every function is
# idempotent and installs only what is missing.

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
  command -v cc >/dev/null 2>&1 || apt_install build-essential pkg-config
}

# alembic 1.20.1 in ./.venv: the reference the comparison tests and the benchmark run against.
# psycopg (3) too: SQLAlchemy 2.1 uses it for a plain postgresql:// URL, as saved connections give.
ensure_alembic_venv() {
  local root; root=$(repo_root)
  if [ ! -x "$root/.venv/bin/alembic" ] || ! "$root/.venv/bin/alembic" --version 2>/dev/null | grep -q "1\.20\.1" || ! "$root/.venv/bin/python" -c "import psycopg2, psycopg, pymysql" 2>/dev/null; then
    echo "==> creating .venv with alembic 1.20.1"
    python3 -m venv "$root/.venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$root/.venv"; }
    "$root/.venv/bin/pip" install -q --disable-pip-version-check alembic==1.20.1 SQLAlchemy psycopg2-binary "psycopg[binary]" PyMySQL
  fi
  export RETORT_ALEMBIC_PYTHON="$root/.venv/bin/python"
}

# keyctl (package keyutils): the credential tests use the kernel session keyring, and with
# keyctl installed a kernel that refuses it fails those tests instead of skipping them.
ensure_keyutils() {
  command -v keyctl >/dev/null 2>&1 || apt_install keyutils
}

# Backups run pg_dump/pg_restore and mariadb-dump/mariadb; the backup tests read SQLite
# databases with sqlite3, and the benchmark compares against `sqlite3 .backup`.
ensure_dump_tools() {
  local pkgs=()
  { command -v pg_dump && command -v pg_restore; } >/dev/null 2>&1 || pkgs+=(postgresql-client)
  { command -v mariadb-dump || command -v mysqldump; } >/dev/null 2>&1 || pkgs+=(mariadb-client)
  command -v sqlite3 >/dev/null 2>&1 || pkgs+=(sqlite3)
  [ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}"
}

# The loopback PostgreSQL and MariaDB the integration tests use; start whichever is down.
ensure_services() {
  if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "==> starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  if [ -x /usr/sbin/mariadbd ] && ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
    echo "==> starting MariaDB"
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    for _ in $(seq 1 30); do mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 && break; sleep 1; done
  fi
}

# The UI (ui/): node and npm from Debian if missing, its packages (npm ci, from the lockfile)
# and its build in ui/dist, which `retort serve` and the desktop app embed at compile time.
ensure_ui() {
  local root; root=$(repo_root)
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  if [ ! -f "$root/ui/node_modules/.package-lock.json" ] || [ "$root/ui/package-lock.json" -nt "$root/ui/node_modules/.package-lock.json" ]; then
    echo "==> npm ci (ui/)"
    npm --prefix "$root/ui" ci --no-audit --no-fund --loglevel=error
  fi
  if [ ! -f "$root/ui/dist/index.html" ] || [ -n "$(find "$root/ui/src" "$root/ui/index.html" -newer "$root/ui/dist/index.html" -print -quit)" ]; then
    echo "==> building the UI (ui/dist)"
    # tsc prints its errors on stdout: show them when the build fails, not only its exit code.
    local out
    if ! out=$(npm --prefix "$root/ui" run build --silent 2>&1); then
      printf '%s\n' "$out" >&2
      echo "!! the UI build (npm run build in ui/) failed" >&2
      return 1
    fi
  fi
}

# The desktop app's build and test needs: WebKitGTK headers, a virtual display, the
# WebKit WebDriver, and xdotool (types into the native file chooser in tests/desktop.rs).
ensure_gui_deps() {
  apt_install libwebkit2gtk-4.1-dev build-essential pkg-config xvfb webkit2gtk-driver xdotool
}

# Debian's Chromium, which the browser tests and the UI benchmark drive (playwright-core).
ensure_chromium() {
  apt_install chromium
}

# OpenSSH's server and client for the SSH-tunnel tests (tests/support/sshd.rs), which start
# an sshd of their own on a loopback port. The package's own sshd must neither start nor stay
# enabled: a policy-rc.d that refuses every start is put in place for the install when there
# is none (Docker images have one) and taken away again, and the service that the package's
# postinst enabled is disabled (only when this function installed it). sshd refuses to run
# without its privilege-separation folder /run/sshd, which the unstarted service never made.
ensure_sshd() {
  local pkgs=()
  [ -x /usr/sbin/sshd ] || pkgs+=(openssh-server)
  { command -v ssh && command -v ssh-keygen && command -v ssh-agent && command -v ssh-add; } >/dev/null 2>&1 || pkgs+=(openssh-client)
  if [ ${#pkgs[@]} -gt 0 ]; then
    local policy=/usr/sbin/policy-rc.d ours="" status=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# ensure_sshd (scripts/lib/setup.sh): no service starts during its install\nexit 101\n' | as_root tee "$policy" >/dev/null
      as_root chmod 0755 "$policy"
      ours=1
    fi
    apt_install "${pkgs[@]}" || status=$?
    [ -z "$ours" ] || as_root rm -f "$policy"
    [ "$status" = 0 ] || return "$status"
    if [[ " ${pkgs[*]} " == *" openssh-server "* ]]; then
      if command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable --quiet ssh.service >/dev/null 2>&1 || true
      elif command -v update-rc.d >/dev/null 2>&1; then
        as_root update-rc.d ssh disable >/dev/null 2>&1 || true
      fi
    fi
  fi
  if [ ! -d /run/sshd ]; then
    as_root install -d -m 0755 -o root -g root /run/sshd
  fi
}

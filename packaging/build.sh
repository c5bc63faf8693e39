#!/usr/bin/env bash
# Install shopbridge the way its container image has it, then check the result starts.
#
# The Dockerfile runs this script and nothing else to build the image, and CI runs it too, in
# a clean temporary folder, so what the image does is tested on machines without docker.
#
#   packaging/build.sh --prefix DIR [--source DIR] [--create-user NAME]
#
#   --prefix DIR        where the virtual environment goes (created; must not hold another)
#   --source DIR        the source tree to install (default: the one holding this script)
#   --create-user NAME  also prepare the system: the account NAME that runs shopbridge, its
#                       state folder /var/lib/shopbridge, the timezone database if missing
#                       (needs root; the image asks for it, CI does not)
#
# The package is installed from a copy of the files a wheel is made of (pyproject.toml,
# README.md, LICENSE, src/), never in editable mode: the build leaves nothing in the source
# tree, and a file the package needs but the image does not copy fails here, not in production.
set -euo pipefail

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
}

prefix=""
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
create_user=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a folder}"; shift 2 ;;
    --source) source_dir="${2:?--source needs a folder}"; shift 2 ;;
    --create-user) create_user="${2:?--create-user needs an account name}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "build.sh: give --prefix DIR (where to install)" >&2; exit 2; }
[ -f "$source_dir/pyproject.toml" ] || {
  echo "build.sh: $source_dir holds no pyproject.toml: give --source DIR" >&2
  exit 2
}
if [ -e "$prefix" ] && [ -n "$(ls -A "$prefix" 2>/dev/null)" ]; then
  echo "build.sh: $prefix is not empty: install into a new folder" >&2
  exit 2
fi
python="${PYTHON:-python3}"

if [ -n "$create_user" ]; then
  echo "== creating the system account $create_user"
  if ! id "$create_user" >/dev/null 2>&1; then
    groupadd --system "$create_user"
    useradd --system --gid "$create_user" --home-dir /var/lib/shopbridge --no-create-home \
      --shell /usr/sbin/nologin "$create_user"
  fi
  # Its database, key file and nothing else: for this account only (see README, Files on disk).
  install -d -m 0700 -o "$create_user" -g "$create_user" /var/lib/shopbridge
  # Connections keep the merchant's IANA timezone; newer slim images ship no zone files.
  if [ ! -e /usr/share/zoneinfo/Etc/UTC ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing the timezone database"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tzdata >/dev/null
    rm -rf /var/lib/apt/lists/*
  fi
fi

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
echo "== copying the package's files from $source_dir"
cp "$source_dir/pyproject.toml" "$source_dir/README.md" "$source_dir/LICENSE" "$staging/"
cp -R "$source_dir/src" "$staging/src"
find "$staging/src" -name __pycache__ -prune -exec rm -rf {} +
find "$staging/src" -name '*.egg-info' -prune -exec rm -rf {} +

echo "== installing shopbridge into $prefix"
"$python" -m venv "$prefix"
"$prefix/bin/python" -m pip install --quiet --disable-pip-version-check "$staging"

echo "== checking the installed command"
version_line="$("$prefix/bin/shopbridge" --version)"
expected="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$source_dir/src/shopbridge/__init__.py")"
case "$version_line" in
  *"version $expected") echo "$version_line" ;;
  *) echo "build.sh: shopbridge --version printed '$version_line', expected $expected" >&2; exit 1 ;;
esac
"$prefix/bin/shopbridge" --help >/dev/null
# The migrations and templates ship inside the package: a schema made from the installed copy
# proves the migrations are there; the web app's files are looked up where it will read them.
scratch="$staging/scratch"
mkdir "$scratch"
(cd "$scratch" && "$prefix/bin/shopbridge" db upgrade --database-url "sqlite:///$scratch/check.sqlite3" >/dev/null)
"$prefix/bin/python" - <<'PY'
from importlib.resources import files

web = files("shopbridge.web")
shipped = {
    "templates/*.html": any(t.name.endswith(".html") for t in web.joinpath("templates").iterdir()),
    "static/": web.joinpath("static").is_dir(),
    "common_passwords.txt": web.joinpath("common_passwords.txt").is_file(),
}
missing = [name for name, there in shipped.items() if not there]
if missing:
    raise SystemExit(f"build.sh: the installed package lacks shopbridge/web/{', '.join(missing)}")
PY
echo "== shopbridge installed in $prefix"

#!/usr/bin/env bash
# package.sh: builds the Debian package. Copies the source tree (the files
# git tracks or would track, as they are in the working tree) to a temp dir,
# puts deploy/debian at debian/ there (the top level of the repository is
# fixed), runs dpkg-buildpackage -us -uc -b and lintian, and leaves the
# .deb, .changes and .buildinfo in build-deb/ (or $1).
# AG_PACKAGE_JOBS: parallel build jobs (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")

version=$(sed -n "s/^ *version : '\([^']*\)',*$/\1/p" meson.build)
deb_version=$(dpkg-parsechangelog -l deploy/debian/changelog -S Version)
if [ "$deb_version" != "$version" ]; then
  echo "package: deploy/debian/changelog is at $deb_version, meson.build at $version: add a changelog entry" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ag-package-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/actiongap-$version
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$src"
else
  tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -a deploy/debian "$src/debian"
# the unit tests read ../shared/data beside the source (SPEC 11)
if [ -d ../shared/data ]; then
  mkdir -p "$tmp/shared" && cp -a ../shared/data "$tmp/shared/data"
fi

echo "package: dpkg-buildpackage in $src" >&2
(cd "$src" && dpkg-buildpackage -us -uc -b -J"${AG_PACKAGE_JOBS:-2}") > "$tmp/build.log" 2>&1 || {
  tail -n 60 "$tmp/build.log" >&2
  echo "package: dpkg-buildpackage failed (the last lines above)" >&2
  exit 1
}
mkdir -p "$out"
rm -f "$out"/actiongap*_*
mv "$tmp"/actiongap*_"$version"_* "$out"/
cp "$tmp/build.log" "$out/build.log"

deb=$(ls "$out"/actiongap_"$version"_*.deb)
echo "package: lintian" >&2
lintian --fail-on error,warning --info "$out"/actiongap_"$version"_*.changes >&2
echo "$deb"

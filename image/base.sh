#!/usr/bin/env bash
# Makes the local base image `make image` builds on when no image registry is reachable: a minimal root
# filesystem of the Debian release this machine runs (debootstrap --variant=minbase, the same variant the
# debian:<release>-slim images are made from), imported into buildah's local storage as
# localhost/finplane-base:<release>. Called by image/build.sh; prints the image's name on its last line.
#
# The root filesystem is cached as a tarball under .cache/image-base/<release>-<arch>/ (gitignored), so only
# the first build pays for debootstrap; delete that folder (or set IMAGE_BASE_REFRESH=1) to make it anew.
# Environment: IMAGE_BASE_RELEASE (default: VERSION_CODENAME of /etc/os-release), IMAGE_BASE_MIRROR (default:
# the first archive of this machine's apt sources), IMAGE_CACHE (default: .cache/image-base).
set -euo pipefail

# shellcheck disable=SC1091
. /etc/os-release
release=${IMAGE_BASE_RELEASE:-${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}}
arch=$(dpkg --print-architecture)
name=localhost/finplane-base:$release
cache=${IMAGE_CACHE:-.cache/image-base}/$release-$arch
tarball=$cache/rootfs.tar

if [ "${IMAGE_BASE_REFRESH:-0}" = 1 ]; then
  rm -f "$tarball"
  buildah rmi "$name" >/dev/null 2>&1 || true
fi
if buildah inspect --type image "$name" >/dev/null 2>&1; then
  echo "==> base image $name is in buildah's storage"
  echo "$name"
  exit 0
fi

# The machine's own archive (deb822 sources first, then the one-line format); debootstrap's default otherwise.
mirror=${IMAGE_BASE_MIRROR:-}
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk -v r="$release" '$1 == "deb" && $3 == r { print $2; exit }' /etc/apt/sources.list)
fi

if [ ! -f "$tarball" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "==> debootstrap --variant=minbase $release ($arch) ${mirror:-(the default mirror)}"
  start=$SECONDS
  # shellcheck disable=SC2086
  debootstrap --variant=minbase --arch="$arch" "$release" "$work/rootfs" $mirror > "$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # Like the slim images: the machine's apt sources (with the security archive), no package lists or caches.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$work/rootfs/etc/apt/sources.list.d/debian.sources"
    rm -f "$work/rootfs/etc/apt/sources.list"
  fi
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/* "$work"/rootfs/var/log/* \
         "$work"/rootfs/tmp/* "$work"/rootfs/root/.cache
  tar -C "$work/rootfs" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  echo "==> root filesystem cached as $tarball ($(du -m "$tarball" | cut -f1) MB, debootstrap $((SECONDS - start)) s)"
fi

echo "==> importing $tarball as $name"
ctr=$(buildah from scratch)
buildah add --quiet "$ctr" "$tarball" / >/dev/null
# Slim as the debian slim images are: no documentation, manual pages or translations (the licences stay),
# neither those debootstrap installed nor those of packages installed later (dpkg's path-exclude).
mnt=$(buildah mount "$ctr")
cat > "$mnt/etc/dpkg/dpkg.cfg.d/finplane-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
find "$mnt/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$mnt/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$mnt"/usr/share/man/* "$mnt"/usr/share/info/* "$mnt"/usr/share/lintian/*
find "$mnt/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash \
  --label "org.opencontainers.image.base.name=debootstrap:$release-minbase" "$ctr"
buildah commit --quiet --rm "$ctr" "$name" >/dev/null
echo "$name"

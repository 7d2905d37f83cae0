#!/bin/sh
# Makes sure the programs the tests start as real peers are installed: OpenSSH's sshd (SSH
# action tests), Alertmanager and amtool (the outage sample), Xvfb and xdotool (the Studio under
# a real X server, with the libraries Qt's X11 plugin loads). Missing ones are installed with apt-get when this runs as root on
# Debian/Ubuntu; otherwise it names the exact command to run and exits 2.
set -u
missing=""
need() {  # need PROGRAM DEBIAN-PACKAGE
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ] && [ ! -x "/sbin/$1" ]; then
    case " $missing " in *" $2 "*) ;; *) missing="$missing $2" ;; esac
  fi
}
need sshd openssh-server
need ssh openssh-client
need ssh-keygen openssh-client
need prometheus-alertmanager prometheus-alertmanager
need amtool prometheus-alertmanager
need openssl openssl
need Xvfb xvfb
need xdotool xdotool
# Libraries are looked up as Debian packages, where dpkg can tell.
need_package() {
  if command -v dpkg-query >/dev/null 2>&1 &&
    ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $1"
  fi
}
for package in libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 \
  libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 \
  libxcb-xinerama0 libxcb-xkb1; do
  need_package "$package"
done
missing=${missing# }
[ -z "$missing" ] && exit 0

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing what the tests start as real peers: $missing"
  apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null &&
    exit 0
  echo "make test: 'apt-get install $missing' failed (see above); install these packages, then run make test again." >&2
  exit 2
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "make test needs programs its tests start as real peers; run 'sudo apt-get install $missing', then make test again." >&2
else
  echo "make test needs programs its tests start as real peers, packaged by Debian as: $missing; install their equivalents, then run make test again." >&2
fi
exit 2

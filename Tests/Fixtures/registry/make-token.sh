#!/bin/sh
# mk.sh DIR SERVICE REPO: a self-signed key/cert and a JWT granting pull,push on REPO, served as DIR/token.
set -eu
dir=$1 service=$2 repo=$3
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj "/CN=crpod-test-token" 2>/dev/null
b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
x5c=$(openssl x509 -in "$dir/cert.pem" -outform DER | openssl base64 -A)
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT","x5c":["%s"]}' "$x5c" | b64)
payload=$(printf '{"iss":"crpod-test","sub":"","aud":"%s","exp":%d,"nbf":%d,"iat":%d,"jti":"%s","access":[{"type":"repository","name":"%s","actions":["pull","push"]}]}' \
    "$service" $((now + 3600)) $((now - 60)) $((now - 60)) "$now$$" "$repo" | b64)
sig=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$dir/key.pem" | b64)
printf '{"token":"%s.%s.%s"}' "$header" "$payload" "$sig" > "$dir/token"

# The Vault policy of a vindex server: it may only encrypt and decrypt with
# the key-encryption key (at start-up, to unwrap the PRF keyset; at a
# rewrap, to wrap it again), read the key's metadata (its versions, for
# `vindex keys rewrap`), and renew its own token. It can neither export nor
# rotate nor delete the key, nor use any other transit function (no hmac,
# no sign, no datakey), nor read other secrets.
#
# KEY is the transit key's name: replace it (tools/vaultdev, which the tests
# use, reads this file and does).

path "transit/encrypt/KEY" {
  capabilities = ["update"]
}

path "transit/decrypt/KEY" {
  capabilities = ["update"]
}

path "transit/keys/KEY" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

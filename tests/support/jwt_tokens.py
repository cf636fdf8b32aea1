"""Keys and tokens for the identity tests, made by PyJWT and cryptography (libraries no one here
wrote). Reads a JSON spec on stdin:

    {"keys": [{"kid": "rsa-1", "kty": "RSA"}, {"kid": "ec-1", "kty": "EC"},
              {"kid": "ed-1", "kty": "OKP"}],
     "tokens": {"name": {"kid": "rsa-1", "alg": "RS256", "claims": {...}}}}

and prints {"jwks": {"rsa-1": JWK, ...}, "tokens": {"name": "eyJ..."}}: each key's public JWK
(with its kid and alg), each token signed by its key with its algorithm (the header names the
kid; "kid": null leaves it out).
"""

import json
import sys

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ALGORITHMS = {"RSA": ("RS256", RSAAlgorithm), "EC": ("ES256", ECAlgorithm), "OKP": ("EdDSA", OKPAlgorithm)}


def make_key(kty):
    if kty == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kty == "EC":
        return ec.generate_private_key(ec.SECP256R1())
    if kty == "OKP":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kty)


def main():
    spec = json.load(sys.stdin)
    private = {}
    jwks = {}
    for key in spec["keys"]:
        kid, kty = key["kid"], key["kty"]
        secret = make_key(kty)
        private[kid] = secret
        alg, algorithm = ALGORITHMS[kty]
        public = json.loads(algorithm.to_jwk(secret.public_key()))
        public.update({"kid": kid, "alg": alg, "use": "sig"})
        jwks[kid] = public
    tokens = {}
    for name, token in spec.get("tokens", {}).items():
        kid = token.get("kid")
        signer = private[token.get("signed_by", kid)]
        headers = {"kid": kid} if kid is not None else {}
        tokens[name] = jwt.encode(token["claims"], signer, algorithm=token["alg"], headers=headers)
    json.dump({"jwks": jwks, "tokens": tokens}, sys.stdout)


if __name__ == "__main__":
    main()

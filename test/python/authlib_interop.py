"""Checks keyward's OAuth2 server with Debian's python3-authlib.

Usage: authlib_interop.py BASE METADATA_PATH CLIENT_ID CLIENT_SECRET RS_ID RS_SECRET

BASE is where the server listens (requests go there; the metadata's own URLs
may name a public URL in front of it). Prints one JSON object with what each
step saw; the Go test (internal/httpapi) asserts it.
"""
import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc7662 import IntrospectTokenValidator
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

base, meta_path, cid, csecret, rs_id, rs_secret = sys.argv[1:7]


def call(path, form=None, basic=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(base + path, data=data)
    if basic:
        pair = urllib.parse.quote(basic[0], safe="") + ":" + urllib.parse.quote(basic[1], safe="")
        req.add_header("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=20) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body.decode(errors="replace")


out = {}
status, meta = call(meta_path)
out["metadataStatus"] = status
try:
    AuthorizationServerMetadata(meta).validate()
    out["metadata"] = "valid"
except Exception as e:  # the validator's message is the finding
    out["metadata"] = "invalid: %s" % e
out["issuer"] = meta.get("issuer")
out["openidConfigurationStatus"] = call("/.well-known/openid-configuration")[0]

status, tok = call("/oauth2/token", {"grant_type": "client_credentials", "scope": "orders_read"}, basic=(cid, csecret))
out["tokenStatus"] = status
access = tok["access_token"]

status, jwks = call("/.well-known/jwks.json")
claims = jwt.decode(access, JsonWebKey.import_key_set(jwks),
                    claims_options={"iss": {"essential": True, "value": meta["issuer"]}, "exp": {"essential": True}})
claims.validate()
out["jwt"] = {"alg": claims.header["alg"], "sub": claims["sub"], "iss": claims["iss"]}


class Validator(IntrospectTokenValidator):
    def introspect_token(self, token_string):
        status, res = call("/oauth2/introspect", {"token": token_string, "client_id": rs_id, "client_secret": rs_secret})
        out["introspectStatus"] = status
        return res


v = Validator()
info = v.authenticate_token(access)
try:
    v.validate_token(info, ["orders_read"], None)
    out["introspectScope"] = "ok"
except (InvalidTokenError, InsufficientScopeError) as e:
    out["introspectScope"] = e.error
try:
    v.validate_token(info, ["not_held"], None)
    out["introspectOtherScope"] = "ok"
except (InvalidTokenError, InsufficientScopeError) as e:
    out["introspectOtherScope"] = e.error
status, bad = call("/oauth2/introspect", {"token": access, "client_id": rs_id, "client_secret": "kw_sk_wrong"})
out["introspectWrongSecret"] = {"status": status, "error": bad.get("error") if isinstance(bad, dict) else bad}
print(json.dumps(out))

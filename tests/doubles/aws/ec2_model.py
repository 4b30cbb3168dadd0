"""ec2_model.py - the EC2 Query protocol as botocore publishes it, for the double.

Everything here reads botocore's `ec2` service model (Debian's
python3-botocore); nothing about parameter names or types is written down
in this folder.

  decode(op_model, flat)     form body {name: text} -> (params, leftover keys):
                             the EC2 serializer in reverse (a member's
                             serialized name is its queryName, else its
                             locationName capitalised, else its own name;
                             lists are flattened as Name.N, structures
                             Name.Member), scalars typed per the shape
  check_request(...)         decode + ParamValidator + a round trip through
                             botocore's own EC2 serializer: the body must be
                             exactly what botocore would have sent
  check_signature(...)       SigV4 recomputed with botocore.auth.SigV4Auth
  to_xml(op_model, data)     an answer in the operation's output shape
                             (locationName, lists as <item>), refusing any
                             member the shape does not have
  check_response(...)        parse that XML with botocore's ec2 parser and
                             serialise the result again: it must be the same
"""
import datetime
import hmac
import re
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

try:
    import botocore
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import botocore.parsers
    import botocore.serialize
    import botocore.session
    import botocore.validate
except ImportError:  # the double says so and exits 77
    botocore = None

XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
MISSING = object()


def load():
    session = botocore.session.get_session()
    return session.get_service_model("ec2")


def botocore_version():
    return botocore.__version__


def _sername(shape, default):
    if "queryName" in shape.serialization:
        return shape.serialization["queryName"]
    if "name" in shape.serialization:
        n = shape.serialization["name"]
        return n[0].upper() + n[1:]
    return default


def _has_prefix(keys, prefix):
    p = prefix + "."
    return any(k.startswith(p) for k in keys)


def _scalar(shape, text):
    t = shape.type_name
    if t in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text  # the validator reports the wrong type
    if t in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if t == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def _decode(flat, shape, name, used):
    t = shape.type_name
    if t == "structure":
        if not _has_prefix(flat, name):
            return MISSING
        return _decode_members(flat, shape, name, used)
    if t == "list":
        items = []
        i = 1
        while True:
            v = _decode(flat, shape.member, "%s.%d" % (name, i), used)
            if v is MISSING:
                break
            items.append(v)
            i += 1
        return items if items else MISSING
    if t == "map":
        out = {}
        i = 1
        while True:
            kn = "%s.%d.%s" % (name, i, _sername(shape.key, "key"))
            vn = "%s.%d.%s" % (name, i, _sername(shape.value, "value"))
            if kn not in flat:
                break
            used.add(kn)
            v = _decode(flat, shape.value, vn, used)
            out[flat[kn]] = None if v is MISSING else v
            i += 1
        return out if out else MISSING
    if name not in flat:
        return MISSING
    used.add(name)
    return _scalar(shape, flat[name])


def _decode_members(flat, shape, prefix, used):
    out = {}
    for mname, mshape in shape.members.items():
        key = _sername(mshape, mname)
        full = prefix + "." + key if prefix else key
        v = _decode(flat, mshape, full, used)
        if v is not MISSING:
            out[mname] = v
    return out


def decode(op_model, flat):
    """Params per the input shape, and the keys no member accounts for."""
    used = {"Action", "Version"}
    shape = op_model.input_shape
    params = _decode_members(flat, shape, "", used) if shape else {}
    return params, sorted(k for k in flat if k not in used)


_serializer = None
_validator = None


def check_request(op_model, flat):
    """(params, problems): problems is a list of (code, message) in EC2's terms."""
    global _serializer, _validator
    if _serializer is None:
        _serializer = botocore.serialize.create_serializer("ec2", include_validation=False)
        _validator = botocore.validate.ParamValidator()
    problems = []
    params, leftover = decode(op_model, flat)
    for k in leftover:
        problems.append(("UnknownParameter", "The parameter %s is not recognized" % k))
    if op_model.input_shape is not None:
        report = _validator.validate(params, op_model.input_shape)
        if report.has_errors():
            problems.append(("InvalidParameterValue", report.generate_report()))
    if not problems:
        again = _serializer.serialize_to_request(params, op_model)["body"]
        want = {k: _text(v) for k, v in again.items()}
        if want != flat:
            diff = sorted(set(want.items()) ^ set(flat.items()))
            problems.append(("InvalidParameterValue",
                             "the body is not what botocore's EC2 serializer makes of "
                             "its parameters: %s" % diff[:6]))
    return params, problems


def _text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse_form(body):
    """The form body as {name: value}; a repeated name is a problem."""
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                      strict_parsing=False)
    flat = {}
    dup = []
    for k, v in pairs:
        if k in flat:
            dup.append(k)
        flat[k] = v
    return flat, dup


_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)/"
                      r"aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$")


def parse_authorization(value):
    m = _AUTH_RE.match(value or "")
    if not m:
        return None
    return {"access_key": m.group(1), "date": m.group(2), "region": m.group(3),
            "service": m.group(4), "signed": m.group(5).split(";"), "signature": m.group(6)}


def check_signature(method, url_path, headers, body, auth, creds):
    """None when the signature is right, else why not (no secret in it)."""
    amz_date = headers.get("x-amz-date", "")
    if not re.match(r"^\d{8}T\d{6}Z$", amz_date):
        return "X-Amz-Date is missing or malformed"
    if amz_date[:8] != auth["date"]:
        return "the credential scope's date is not X-Amz-Date's"
    if auth["service"] != "ec2":
        return "the credential scope names service %r, not ec2" % auth["service"]
    for h in ("host", "x-amz-date"):
        if h not in auth["signed"]:
            return "%s is not signed" % h
    token = creds.get("token")
    if token:
        if headers.get("x-amz-security-token") != token:
            return "X-Amz-Security-Token is missing or not the session's token"
        if "x-amz-security-token" not in auth["signed"]:
            return "X-Amz-Security-Token is not signed"
    if auth["access_key"] != creds["access_key"]:
        return "unknown access key"
    t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    skew = abs((datetime.datetime.utcnow() - t).total_seconds())
    if skew > 900:
        return "X-Amz-Date is %d s away from now (more than 15 minutes)" % skew
    hdrs = {}
    for h in auth["signed"]:
        if h not in headers:
            return "signed header %s was not sent" % h
        hdrs[h] = headers[h]
    req = botocore.awsrequest.AWSRequest(method=method, url="http://%s%s" % (
        headers.get("host", "localhost"), url_path), data=body, headers=hdrs)
    req.context["timestamp"] = amz_date
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(creds["access_key"], creds["secret_key"], token),
        "ec2", auth["region"])
    canonical = signer.canonical_request(req)
    sts = signer.string_to_sign(req, canonical)
    want = signer.signature(sts, req)
    if not hmac.compare_digest(want, auth["signature"]):
        if token:
            canonical = canonical.replace(token, "<session token>")
        return "the signature does not match (the canonical request botocore computed: %r)" % (
            canonical,)
    return None


# ---- answers ----

def _ts(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return v


def _members(shape, value, out):
    """A structure's members in the model's order (botocore's parser gives
    them back in that order, which makes the round trip comparable)."""
    for k in value:
        if k not in shape.members:
            raise ValueError("%s has no member %s" % (shape.name, k))
    for k, m in shape.members.items():
        v = value.get(k)
        if v is not None:
            _xml(m, v, m.serialization.get("name", k), out)


def _xml(shape, value, name, out):
    t = shape.type_name
    if t == "structure":
        out.append("<%s>" % name)
        _members(shape, value, out)
        out.append("</%s>" % name)
    elif t == "list":
        if not isinstance(value, list):
            raise ValueError("%s: %s is not a list" % (shape.name, name))
        item = shape.member.serialization.get("name", "item")
        out.append("<%s>" % name)
        for v in value:
            _xml(shape.member, v, item, out)
        out.append("</%s>" % name)
    elif t == "boolean":
        out.append("<%s>%s</%s>" % (name, "true" if value else "false", name))
    elif t == "timestamp":
        out.append("<%s>%s</%s>" % (name, escape(_ts(value)), name))
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("%s: %r is not an integer" % (name, value))
        out.append("<%s>%d</%s>" % (name, value, name))
    else:
        out.append("<%s>%s</%s>" % (name, escape(str(value)), name))


def to_xml(op_model, data, request_id):
    """The answer of op_model with data (a dict in the output shape)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n',
           '<%sResponse xmlns="%s">' % (op_model.name, XMLNS),
           "<requestId>%s</requestId>" % request_id]
    shape = op_model.output_shape
    if shape is None:
        out.append("<return>true</return>")
    else:
        _members(shape, data, out)
    out.append("</%sResponse>" % op_model.name)
    return "".join(out)


_parser = None


def check_response(op_model, xml):
    """None when botocore's ec2 parser reads xml back to what makes it again."""
    global _parser
    if op_model.output_shape is None:
        return None
    if _parser is None:
        _parser = botocore.parsers.create_parser("ec2")
    parsed = _parser.parse({"body": xml.encode(), "headers": {}, "status_code": 200},
                           op_model.output_shape)
    parsed.pop("ResponseMetadata", None)
    rid = re.search(r"<requestId>([^<]*)</requestId>", xml).group(1)
    again = to_xml(op_model, parsed, rid)
    if again != xml:
        return "botocore's parser reads the answer differently"
    return None


def error_xml(code, message, request_id):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
            "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
            % (escape(code), escape(message), request_id))

"""S3's error answers as the emulator gives them (`Refusal`: status, Code, Message, and the XML
body S3 sends), for its authentication checks (`devstack/s3_auth.py`) and its body checks
(`devstack/s3_bodies.py`)."""
from __future__ import annotations

from typing import NamedTuple


class Refusal(NamedTuple):
    """S3's error answer: HTTP status, error Code, Message."""

    status: str
    code: str
    message: str

    def answer(self, start_response) -> list[bytes]:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
                f"<Message>{self.message}</Message></Error>").encode()
        start_response(self.status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]


ANONYMOUS_WRITE = ACCESS_DENIED = Refusal("403 Forbidden", "AccessDenied", "Access Denied")
EXPIRED = Refusal("403 Forbidden", "AccessDenied", "Request has expired")
UNKNOWN_KEY = Refusal("403 Forbidden", "InvalidAccessKeyId",
                      "The AWS Access Key Id you provided does not exist in our records.")
BAD_SIGNATURE = Refusal("403 Forbidden", "SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your key and signing method.")
SKEWED = Refusal("403 Forbidden", "RequestTimeTooSkewed",
                 "The difference between the request time and the current time is too large.")
TWO_MECHANISMS = Refusal("400 Bad Request", "InvalidArgument",
                         "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                         "Signature query string parameter or the Authorization header should be specified")
BAD_QUERY_AUTH = Refusal("400 Bad Request", "AuthorizationQueryParametersError",
                         "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                         "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
BAD_HEADER_AUTH = Refusal("400 Bad Request", "AuthorizationHeaderMalformed",
                          "The authorization header is malformed.")
NO_CONTENT_SHA256 = Refusal("400 Bad Request", "InvalidRequest",
                            "Missing required header for this request: x-amz-content-sha256")
BAD_CONTENT_SHA256 = Refusal("400 Bad Request", "InvalidArgument",
                             "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                             "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
                             "or a valid sha256 value.")
SHA256_MISMATCH = Refusal("400 Bad Request", "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was computed.")
MD5_MISMATCH = Refusal("400 Bad Request", "BadDigest", "The Content-MD5 you specified did not match what we received.")
MD5_INVALID = Refusal("400 Bad Request", "InvalidDigest", "The Content-MD5 you specified was invalid.")
UNTERMINATED = Refusal("400 Bad Request", "IncompleteBody", "The request body terminated unexpectedly")
WRONG_LENGTH = Refusal("400 Bad Request", "IncompleteBody",
                       "You did not provide the number of bytes specified by the Content-Length HTTP header")
SINGLE_CHECKSUM = Refusal("400 Bad Request", "InvalidRequest",
                          "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
HEADER_AND_TRAILER = Refusal("400 Bad Request", "InvalidRequest", "Expecting a single x-amz-checksum- header")
UNDECLARED_CHECKSUM = Refusal("400 Bad Request", "InvalidRequest",
                              "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or "
                              "x-amz-trailer headers were found.")
OTHER_ALGORITHM = Refusal("400 Bad Request", "InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
UNSUPPORTED_TRAILER = Refusal("400 Bad Request", "InvalidRequest",
                              "The value specified in the x-amz-trailer header is not supported")
MALFORMED_TRAILER = Refusal("400 Bad Request", "MalformedTrailerError",
                            "The request contained trailing data that was not well-formed or did not conform to our "
                            "published schema.")

"""What the Feishu/Lark platform does to a webhook POST, done independently of larkgw:
AES-256-CBC through the openssl command line (python's stdlib has no AES), SHA-256
signatures with hashlib, and event envelopes to put inside."""
import base64
import hashlib
import json
import os
import subprocess
import time
import uuid

TOKEN = "v-token-7c1e"
ENCRYPT_KEY = "test-encrypt-key-9f3a"


def encrypt(plaintext, encrypt_key=ENCRYPT_KEY, iv=None):
    """The platform's encrypted body: {"encrypt": base64(IV || AES-256-CBC(plaintext))},
    key = SHA-256(encrypt_key), PKCS#7 padding."""
    if isinstance(plaintext, str):
        plaintext = plaintext.encode()
    iv = iv or os.urandom(16)
    key = hashlib.sha256(encrypt_key.encode()).hexdigest()
    out = subprocess.run(["openssl", "enc", "-aes-256-cbc", "-K", key, "-iv", iv.hex()],
                         input=plaintext, stdout=subprocess.PIPE, check=True).stdout
    return json.dumps({"encrypt": base64.b64encode(iv + out).decode()}).encode()


def sign(timestamp, nonce, body, encrypt_key=ENCRYPT_KEY):
    """X-Lark-Signature: hex SHA-256 of timestamp || nonce || encrypt_key || raw body."""
    h = hashlib.sha256()
    for part in (str(timestamp).encode(), str(nonce).encode(), encrypt_key.encode(), body):
        h.update(part)
    return h.hexdigest()


def signed_headers(body, encrypt_key=ENCRYPT_KEY, timestamp=None, nonce=None):
    timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
    nonce = nonce or uuid.uuid4().hex[:12]
    return {
        "Content-Type": "application/json",
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": sign(timestamp, nonce, body, encrypt_key),
    }


def message_event(text="hello", event_id=None, message_id=None, token=TOKEN, chat_id=None):
    """An im.message.receive_v1 envelope (schema 2.0) as the platform sends it."""
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id or uuid.uuid4().hex,
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": token,
            "app_id": "cli_a5f1e2d3c4b5a697",
            "tenant_key": "2ca1d211f64f6438",
        },
        "event": {
            "sender": {
                "sender_id": {"union_id": "on_1", "user_id": "u1", "open_id": "ou_1"},
                "sender_type": "user",
                "tenant_key": "2ca1d211f64f6438",
            },
            "message": {
                "message_id": message_id or "om_" + uuid.uuid4().hex,
                "root_id": "",
                "parent_id": "",
                "create_time": str(int(time.time() * 1000)),
                "update_time": str(int(time.time() * 1000)),
                "chat_id": chat_id or "oc_" + uuid.uuid4().hex[:16],
                "chat_type": "group",
                "message_type": "text",
                "content": json.dumps({"text": text}),
                "mentions": [],
            },
        },
    }


def challenge(token=TOKEN, value="ajls384kdjx98XX"):
    return {"challenge": value, "token": token, "type": "url_verification"}


def signed_encrypted(envelope, encrypt_key=ENCRYPT_KEY, timestamp=None):
    """(body, headers) for an envelope, encrypted and signed as the platform would."""
    body = encrypt(json.dumps(envelope), encrypt_key)
    return body, signed_headers(body, encrypt_key, timestamp)

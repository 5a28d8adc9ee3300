"""The check every OpenAPI test ends with: no secret reached the gateway's log."""


def assert_no_secrets(em, log, extra=()):
    """Fails when the app secret, an Authorization header, anything in extra (encrypt
    keys, app tickets) or any token the emulator issued appears in log. Returns how many
    strings were looked for."""
    secrets = [em.app_secret, "Bearer "] + [s for s in extra if s]
    secrets += [t["token"] for t in em.tokens()]
    leaked = [s for s in secrets if s in log]
    assert not leaked, "reached the gateway log: %r" % leaked
    return len(secrets)

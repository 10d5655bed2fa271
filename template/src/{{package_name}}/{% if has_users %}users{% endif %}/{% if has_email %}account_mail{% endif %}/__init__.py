"""Account e-mails: address verification and password reset, with single-use links.

`POST /auth/forgot-password` and `POST /auth/request-verification` always answer 202 with the
same body, whether or not the address has an account: the lookup, the token and the message
are made after the response is sent. The links carry a random token of which only the SHA-256
is stored; it works once, expires, and a newer request replaces the older one.
"""

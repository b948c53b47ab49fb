"""The JSON API under ``/api/v1``, one flask-smorest blueprint per audience: ``public``
(residents and apps), ``staff`` (consultations, results, erasure), ``admin`` (staff users,
tokens, audit log, dead letters) and ``reports`` (board reports). Routes are thin: they
take what ``@blp.arguments`` loaded, call the application layer, and return what
``@blp.response`` serialises."""

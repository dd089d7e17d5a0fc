(authorizations (version 0) ())

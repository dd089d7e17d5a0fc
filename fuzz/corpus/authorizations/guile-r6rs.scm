#!r6rs
(authorizations (version 0) (("\x41;D17\
  	A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3")))

;; Authorized keys.
;; (authorizations (version 1)) is only a comment.
 (authorizations (version
;; a comment (with "quotes" and parens ((
 ;comment
0) (("cD 1D 96 3F 46 80 26 dC a3 22 59 E2 61 0C 9D 3d 03 46 D5 4C" (name "key0 \"quoted\" (paren")) ;comment
("EF A5 5D c0 75 77 7a B0 57 cc B3 D7 65 1e 6E 9D 87 39 81 77" (name "key1 \"quoted\" (paren")))
;; a comment (with "quotes" and parens ((
)

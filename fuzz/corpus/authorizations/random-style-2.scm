;; Authorized keys.
;; (authorizations (version 1)) is only a comment.
 (authorizations  (version
;; a comment (with "quotes" and parens ((
  0  
;; a comment (with "quotes" and parens ((
)	
;; a comment (with "quotes" and parens ((
(
;; a comment (with "quotes" and parens ((
 ;comment
("CD1D9
63F468026DcA32259E 
 26  10C9d3d0346d54C" (name "key0 \"quoted\" (paren")) ("EfA55d C075777A	b0 
 57C	cB3D 
 7651E6E9D 
 87 
 398 17 
 7")) (future-field "ignored") ignored-symbol 42 )
;; the end

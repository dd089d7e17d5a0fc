
  (authorizations (version
;; a comment (with "quotes" and parens ((
0
;; a comment (with "quotes" and parens ((

  )
  ((;; a comment may sit inside an entry
   "cD1D963F46  8026dCa322  59E2  610C9D3D0 34	6D5	4c" (name "x" extra 1 2.5 #t) #(vector) "another string" sym) ("EFa5 5dc0 7577 7ab0 57CC  B3D7 651e 6E9d 8739 8177" (name "key1"))))
;; the end

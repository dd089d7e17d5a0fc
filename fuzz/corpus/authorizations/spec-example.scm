;; comments are allowed anywhere
(authorizations
 (version 0)
 (("AD17 A21E F8AE D8F1 CC02  DBD9 F7D5 C9BF 765C 61E3" (name "andreas"))
  (;; a comment may sit inside an entry
   "2841 9AC6 5038 7440 C7E9  2FFA 2208 D209 58C1 DEB0" (name "abcdw"))))

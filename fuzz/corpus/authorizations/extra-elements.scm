(authorizations (version 0)
  (("ad17a21ef8aed8f1cc02dbd9f7d5c9bf765c61e3" (name "a") (x 1))
   ("2841 9AC6 5038 7440 C7E9  2FFA 2208 D209 58C1 DEB0"))
  (future stuff)) trailing garbage ("

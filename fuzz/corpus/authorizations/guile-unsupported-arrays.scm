(authorizations (version 0) (("AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3" #vu8(1 2) #u8(3))))

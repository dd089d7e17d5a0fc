(authorizations (version 0 . #nil)
 (("AD17A21EF8AED8F1CC02DBD9F7D5C9BF765C61E3" #\space #\( #\xff #\101 #\nul #t #true #fAlse #*101 #:k #: k
   #{a b}# #nil #(1 [2]) (a . b) ( . c) #;(gone) #| #| nested |# |#
   #~(a #$b:out #$@c #+d) #'e `(f ,g ,@h)) . #nil))

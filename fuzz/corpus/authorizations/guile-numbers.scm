(authorizations (version #e0.0e-300) () 00 #x0 -0 0/5 0@1.5 +0i #i0 1e308 1e-324 +ian.0 #e1.5 1+2i)

(channel
 (version 0)
 (directory "src")
 (keyring-reference "my-keyring")
 (dependencies
  (channel
   (name guix)
   (url "https://example.org/guix.git")
   (branch "master")
   (introduction
    (channel-introduction
     (version 0)
     (commit "9edb3f66fd807b096b48283debdcddccfea34bad")
     (signer "BBB0 2DDF 2CEA F6A8 0D1D  E643 A2A0 6DF2 A33A 54FA"))))))

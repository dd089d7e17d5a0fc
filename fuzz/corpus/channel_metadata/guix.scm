;; This file lets us present this repo as a Guix channel.

(channel
  (version 0)
  (news-file "etc/news.scm")
  (keyring-reference "keyring")
  (url "https://git.guix.gnu.org/guix.git"))

;;; Stand-in for (guix utils), written for this test: the cache lives in
;;; the directory named by GUIX_DIFFERENTIAL_CACHE.
(define-module (guix utils)
  #:export (cache-directory
            with-atomic-file-output))

(define* (cache-directory #:key (ensure? #t))
  (getenv "GUIX_DIFFERENTIAL_CACHE"))

(define* (with-atomic-file-output file proc #:key (sync? #t))
  (let* ((temporary (string-append file ".new"))
         (port (open-output-file temporary))
         (result (proc port)))
    (close-port port)
    (rename-file temporary file)
    result))

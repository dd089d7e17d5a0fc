;; Reads each file named on the command line as Guix reads `.guix-channel'
;; (`read-channel-metadata' from guix/channels.scm, copied, with records
;; made lists); prints one line per file: `OK' and the fields, written with
;; `write', or `ERR' and the exception's key. A dependency that Guix reads
;; as #f (no name or url) makes `guix pull' fail: it is an error here.

(use-modules (ice-9 match)
             (srfi srfi-1)
             (srfi srfi-2))

(load "../../crates/guile-reader/tests/guile_reader/guix-reader.scm")

(define (openpgp-fingerprint->hex str)
  ;; guix/channels.scm's `openpgp-fingerprint->bytevector', as hex; an odd
  ;; number of digits fails in `base16-string->bytevector'.
  (let ((digits (string-downcase (string-filter char-set:hex-digit str))))
    (if (odd? (string-length digits))
        (error "invalid hexadecimal string" str)
        digits)))

(define sexp->channel-introduction
  (match-lambda
    (('channel-introduction ('version 0)
                            ('commit commit) ('signer signer)
                            _ ...)
     (list commit (openpgp-fingerprint->hex signer)))
    (x (error "channel dependency has an invalid introduction field"))))

(define (read-channel-metadata port)
  (match (read port)
    (('channel ('version 0) properties ...)
     (let ((directory    (and=> (assoc-ref properties 'directory) first))
           (dependencies (or (assoc-ref properties 'dependencies) '()))
           (news-file    (and=> (assoc-ref properties 'news-file) first))
           (url          (and=> (assoc-ref properties 'url) first))
           (keyring-reference
            (or (and=> (assoc-ref properties 'keyring-reference) first)
                "keyring")))
       (list
        (cond ((not directory) "/")
              ((string-prefix? "/" directory) directory)
              (else (string-append "/" directory)))
        (map (lambda (item)
               (let ((get (lambda* (key #:optional default)
                            (or (and=> (assoc-ref item key) first) default))))
                 (or (and-let* ((name (get 'name))
                                (url (get 'url))
                                (branch (get 'branch "master")))
                       (list name url branch (get 'commit)
                             (and=> (get 'introduction)
                                    sexp->channel-introduction)))
                     (error "dependency without name or url"))))
             dependencies)
        news-file
        keyring-reference
        url)))
    (_ (error "invalid or unsupported '.guix-channel'"))))

(for-each (lambda (file)
            (display
             (catch #t
               (lambda ()
                 (with-fluids ((%default-port-encoding "UTF-8"))
                   (let ((metadata (call-with-input-file file read-channel-metadata)))
                     (string-append "OK " (object->string metadata)))))
               (lambda (key . args)
                 (string-append "ERR " (symbol->string key)))))
            (newline))
          (cdr (command-line)))

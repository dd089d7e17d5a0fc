;;; The driver of tests/guix_differential.rs (written for this test): reads
;;; requests, one per line on standard input, fields separated by tabs:
;;;
;;;   REPOSITORY START SIGNER END KEYRING HISTORICAL CACHE-KEY
;;;
;;; (START, END: commit ids; SIGNER: fingerprint, hex; KEYRING: branch
;;; name; HISTORICAL: a file in the `.guix-authorizations' format, or `-';
;;; CACHE-KEY: Guix's cache key, or `-' for a fresh one), calls Guix's own
;;; `authenticate-repository' on each, and prints one line per request:
;;;
;;;   ok N                        N commits authenticated (from the stats)
;;;   fail KIND COMMIT [KEY]      KIND classifies Guix's condition
;;;   fail crash - MESSAGE        any other exception
(use-modules (git)
             (guix git-authenticate)
             (guix openpgp)
             (guix base16)
             (guix diagnostics)
             (srfi srfi-1)
             (srfi srfi-34)
             (srfi srfi-35)
             (ice-9 match)
             (ice-9 rdelim))

(define (hex bv)
  (bytevector->base16-string bv))

(define (oid-field c)
  (let ((commit (git-authentication-error-commit c)))
    (if (oid? commit) (oid->string commit) (format #f "~a" commit))))

(define (one-line text)
  (string-map (lambda (ch) (if (memv ch '(#\newline #\tab #\return)) #\space ch))
              text))

(define (describe-exception c)
  (one-line
   (cond ((formatted-message? c)
          (apply format #f (formatted-message-string c)
                 (formatted-message-arguments c)))
         ((message-condition? c) (condition-message c))
         (else
          (catch #t
            (lambda ()
              (format #f "~s ~s" (exception-kind c) (exception-args c)))
            (lambda _ (format #f "~s" c)))))))

(define (classify c)
  (define message
    (and (formatted-message? c) (formatted-message-string c)))
  (define (says? text)
    (and message (string-contains message text)))
  (cond ((says? "which is not permitted")
         (format #f "fail weak-hash ~a" (oid-field c)))
        ((says? "is signed by")
         (match (formatted-message-arguments c)
           ((commit actual expected)
            (format #f "fail wrong-introduction-signer ~a ~a" commit
                    (string-delete #\space actual)))))
        ((says? "is not a descendant")
         (format #f "fail not-descendant ~a" (car (formatted-message-arguments c))))
        ((unsigned-commit-error? c)
         (format #f "fail unsigned ~a" (oid-field c)))
        ((unauthorized-commit-error? c)
         (match (unauthorized-commit-error-signing-key c)
           (#f (format #f "fail removed-authorizations ~a" (oid-field c)))
           (key (format #f "fail unauthorized ~a ~a" (oid-field c)
                        (hex (openpgp-public-key-fingerprint key))))))
        ((signature-verification-error? c)
         (format #f "fail bad-signature ~a" (oid-field c)))
        ((missing-key-error? c)
         (format #f "fail missing-key ~a" (oid-field c)))
        (else
         (format #f "fail crash - ~a" (describe-exception c)))))

(define counter 0)

(define (authenticate-one repository-path start signer end keyring historical
                          cache-key)
  (set! counter (+ counter 1))
  (with-exception-handler
      (lambda (c)
        (if (exception? c)
            (classify c)
            (format #f "fail crash - ~a" (one-line (format #f "~s" c)))))
    (lambda ()
      (let* ((repository (repository-open repository-path))
             (history (if (string=? historical "-")
                          '()
                          (with-fluids ((%default-port-encoding "UTF-8"))
                            (call-with-input-file historical
                              read-authorizations))))
             (stats (authenticate-repository
                     repository (string->oid start)
                     (base16-string->bytevector (string-downcase signer))
                     #:end (string->oid end)
                     #:keyring-reference keyring
                     #:historical-authorizations history
                     #:cache-key (if (string=? cache-key "-")
                                     (format #f "differential/~a-~a"
                                             (getpid) counter)
                                     (string-append "differential/" cache-key)))))
        (repository-close! repository)
        (format #f "ok ~a" (fold (lambda (entry sum) (+ sum (cdr entry))) 0 stats))))
    #:unwind? #t))

(libgit2-init!)
(let loop ()
  (let ((line (read-line)))
    (unless (eof-object? line)
      (match (string-split line #\tab)
        ((repository start signer end keyring historical cache-key)
         (display (authenticate-one repository start signer end keyring historical
                                    cache-key)))
        (_ (display "fail crash - malformed request")))
      (newline)
      (force-output)
      (loop))))

;; Reads each file named on the command line as Guix reads a
;; `.guix-authorizations' blob (a bytevector port: ISO-8859-1), or with
;; `--file' first, as it reads `--historical-authorizations' FILE
;; (`call-with-input-file', in a UTF-8 locale); prints one line per file:
;; `OK' followed by the fingerprints in hex (`UNASSIGNED' instead of `OK'
;; when a fingerprint held a code point Guile's Unicode tables leave
;; unassigned, which `string-filter' dropped), or `ERR' followed by the
;; exception's key.
;;
;; The logic is Guix's own, copied: `read-authorizations' from
;; guix/git-authenticate.scm, `base16-string->bytevector' from
;; guix/base16.scm, and the reader extensions that guix/gexp.scm installs
;; (see crates/guile-reader/tests/guile_reader/guix-reader.scm).

(use-modules (ice-9 match)
             (ice-9 vlist)
             (srfi srfi-1)
             (srfi srfi-60)
             (rnrs bytevectors)
             (rnrs io ports))

;;; guix/gexp.scm's reader extensions.

(load "../../crates/guile-reader/tests/guile_reader/guix-reader.scm")

;;; guix/base16.scm.

(define base16-string->bytevector
  (let ((chars->value (fold (lambda (i r)
                              (vhash-consv (string-ref (number->string i 16)
                                                       0)
                                           i r))
                            vlist-null
                            (iota 16))))
    (lambda (s)
      (define bv
        (make-bytevector (quotient (string-length s) 2) 0))

      (string-fold (lambda (chr i)
                     (let ((j (quotient i 2))
                           (v (and=> (vhash-assv chr chars->value) cdr)))
                       (if v
                           (if (zero? (logand i 1))
                               (bytevector-u8-set! bv j
                                                   (arithmetic-shift v 4))
                               (let ((w (bytevector-u8-ref bv j)))
                                 (bytevector-u8-set! bv j (logior v w))))
                           (error "invalid hexadecimal character" chr)))
                     (+ i 1))
                   0
                   s)
      bv)))

;;; Guile's `string-filter', noting whether it drops a code point Guile's
;;; Unicode tables leave unassigned (which this crate refuses).

(define dropped-unassigned? #f)

(define (string-filter char-set s)
  (string-for-each
   (lambda (c)
     (unless (char-set-contains? char-set:designated c)
       (set! dropped-unassigned? #t)))
   s)
  ((@ (guile) string-filter) char-set s))

;;; guix/git-authenticate.scm.

(define (read-authorizations port)
  (match (read port)
    (('authorizations ('version 0)
                      (((? string? fingerprints) _ ...) ...)
                      _ ...)
     (map (lambda (fingerprint)
            (base16-string->bytevector
             (string-downcase (string-filter char-set:graphic fingerprint))))
          fingerprints))))

;;; The driver.

(define (hex bv)
  (string-concatenate
   (map (lambda (byte)
          (string-pad (number->string byte 16) 2 #\0))
        (bytevector->u8-list bv))))

(define (file-bytes file)
  (let ((bv (call-with-input-file file get-bytevector-all #:binary #t)))
    (if (eof-object? bv) (make-bytevector 0) bv)))

(define (read-file-authorizations file)
  (match (command-line)
    ((_ "--file" _ ...)
     (with-fluids ((%default-port-encoding "UTF-8"))
       (call-with-input-file file read-authorizations)))
    (_
     (read-authorizations (open-bytevector-input-port (file-bytes file))))))

(for-each (lambda (file)
            (display
             (catch #t
               (lambda ()
                 (set! dropped-unassigned? #f)
                 (let ((fingerprints (read-file-authorizations file)))
                   (string-join (cons (if dropped-unassigned? "UNASSIGNED" "OK")
                                      (map hex fingerprints))
                                " ")))
               (lambda (key . args)
                 (string-append "ERR " (symbol->string key)))))
            (newline))
          (match (cdr (command-line))
            (("--file" files ...) files)
            (files files)))

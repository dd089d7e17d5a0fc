;; What Guix makes of each code point in a fingerprint, for
;; tests/fingerprint_characters.rs.  Prints runs of code points alike, one
;; line each: the first code point (hex), then what Guix's
;; `read-authorizations' (guix/git-authenticate.scm) makes of it, then what
;; `openpgp-fingerprint->bytevector' (guix/channels.scm) makes of it.
;; Each is the hex digit `base16-string->bytevector' (guix/base16.scm)
;; reads, `drop' (filtered out), `unassigned' (filtered out, and not
;; designated by Guile's Unicode tables) or `refuse' (kept, no hex digit:
;; base16-string->bytevector fails).  Surrogates, which no string holds,
;; are left out.
(use-modules (srfi srfi-14))

;; The classes are symbols, so that runs are found with `eq?'.

(define (digit-of c)
  ;; What `string-downcase', then base16-string->bytevector, make of C: a
  ;; hex digit or `refuse'.
  (let ((lower (string-downcase (string c))))
    (if (and (= (string-length lower) 1)
             (string-index "0123456789abcdef" (string-ref lower 0)))
        (string->symbol lower)
        'refuse)))

;; `(string-filter char-set:graphic (string c))' keeps C when
;; `char-set:graphic' contains it (read-authorizations), and
;; `(string-filter char-set:hex-digit (string c))' when
;; `char-set:hex-digit' does (openpgp-fingerprint->bytevector).
(define (authorizations-class c)
  (cond ((char-set-contains? char-set:graphic c) (digit-of c))
        ((char-set-contains? char-set:designated c) 'drop)
        (else 'unassigned)))

(define (introduction-class c)
  (if (char-set-contains? char-set:hex-digit c) (digit-of c) 'drop))

(let loop ((code 0) (previous-a #f) (previous-i #f))
  (cond ((> code #x10ffff) #t)
        ((<= #xd800 code #xdfff) (loop #xe000 previous-a previous-i))
        (else
         (let* ((c (integer->char code))
                (a (authorizations-class c))
                (i (introduction-class c)))
           (unless (and (eq? a previous-a) (eq? i previous-i))
             (display (number->string code 16))
             (display " ")
             (display (symbol->string a))
             (display " ")
             (display (symbol->string i))
             (newline))
           (loop (+ code 1) a i)))))

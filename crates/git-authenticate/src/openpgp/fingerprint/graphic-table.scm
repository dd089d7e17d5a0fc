;; Prints, as Rust, the ranges of code points Guile's `string-filter
;; char-set:graphic' drops although its Unicode tables assign them
;; (designated, not graphic: spaces, controls, format characters, private
;; use), for crates/git-authenticate/src/openpgp/fingerprint/graphic.rs.  Surrogates, which no Rust
;; `char' holds, are left out.  Run: guile --no-auto-compile graphic-table.scm
(use-modules (srfi srfi-14))

(define (dropped? code)
  (and (not (<= #xd800 code #xdfff))
       (let ((c (integer->char code)))
         (and (char-set-contains? char-set:designated c)
              (not (char-set-contains? char-set:graphic c))))))

(define (hex code)
  (let ((digits (string-upcase (number->string code 16))))
    (string-append "0x" (string-pad digits (max 4 (string-length digits)) #\0))))

(let loop ((code 0) (start #f))
  (cond ((> code #x110000) #t)
        ((and (<= code #x10ffff) (dropped? code)) (loop (+ code 1) (or start code)))
        (start
         (display (string-append "    (" (hex start) ", " (hex (- code 1)) "),\n"))
         (loop (+ code 1) #f))
        (else (loop (+ code 1) #f))))

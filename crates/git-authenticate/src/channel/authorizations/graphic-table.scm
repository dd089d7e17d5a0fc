;; Prints the runs of code points Guile puts in each class, for
;; crates/git-authenticate/src/channel/authorizations/graphic.rs: `graphic` (in char-set:graphic), `other`
;; (designated but not graphic; surrogates too) or `unassigned`.
(use-modules (srfi srfi-14))
(define (class c)
  (cond ((char-set-contains? char-set:graphic c) 'graphic)
        ((char-set-contains? char-set:designated c) 'other)
        (else 'unassigned)))
(define (code->class i)
  (if (and (>= i #xd800) (<= i #xdfff)) 'other (class (integer->char i))))
(let loop ((i 0) (start 0) (current (code->class 0)))
  (let ((next (if (> i #x10ffff) 'end (code->class i))))
    (if (eq? next current)
        (loop (+ i 1) start current)
        (begin
          (display current) (display " ") (display (number->string start 16)) (display " ") (display (number->string (- i 1) 16)) (newline)
          (unless (eq? next 'end) (loop (+ i 1) i next))))))

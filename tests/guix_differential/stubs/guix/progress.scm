;;; Stand-in for (guix progress), written for this test: reports nothing.
(define-module (guix progress)
  #:export (progress-reporter/silent
            call-with-progress-reporter))

(define progress-reporter/silent 'silent)

(define (call-with-progress-reporter reporter proc)
  (proc (lambda _ #t)))

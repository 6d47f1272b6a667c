/**
 * Call signatures shared by the locking decorators. Each overload is one decorator flavour, so
 * TypeScript accepts the same decorator under standard decorators and under
 * `experimentalDecorators`, and JavaScript can call it as a plain function.
 */
import type { AnyMethod } from './wrap';

/** A method decorator usable in both TypeScript decorator flavours and as a plain call. */
export interface LockingMethodDecorator {
  /** Standard (TC39) method decorator. */
  <This, F extends AnyMethod>(value: F, context: ClassMethodDecoratorContext<This, F>): F;
  /** Legacy `experimentalDecorators` method decorator. */
  <D extends PropertyDescriptor>(target: object, key: string | symbol, descriptor: D): D;
  /** Plain call: returns the wrapped (or marked) function. */
  <F extends AnyMethod>(method: F): F;
}

/** A class decorator usable in both TypeScript decorator flavours and as a plain call. */
export interface LockingClassDecorator {
  /** Standard (TC39) class decorator. */
  <C extends abstract new (...args: never[]) => unknown>(value: C, context: ClassDecoratorContext<C>): void;
  /** Legacy `experimentalDecorators` class decorator, or a plain call: patches the class. */
  <C extends abstract new (...args: never[]) => unknown>(target: C): void;
}
